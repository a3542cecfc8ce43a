"""Properties that must hold for every input, not just the examples we thought of:
email normalisation, and signed tokens (tampered, expired or of another purpose are
never accepted)."""

from __future__ import annotations

import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app import signing
from app.config import get_settings
from app.subscribers.service import InvalidAddress, normalise_email
from tests.security.conftest import FIGURES

LOCAL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-",
    min_size=1,
    max_size=30,
)
LABEL = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=15,
)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["org", "COM", "Coop", "ca"]),
)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
PAYLOAD = st.one_of(
    st.integers(),
    st.text(max_size=40),
    st.dictionaries(
        st.sampled_from(["s", "n", "t"]), st.integers() | st.text(max_size=10), max_size=3
    ),
)
PURPOSES = st.sampled_from(list(signing.Purpose))


def _normalised_or_none(address: str) -> str | None:
    try:
        return normalise_email(address)
    except InvalidAddress:
        return None


@settings(max_examples=300, deadline=None)
@given(ADDRESS)
def test_normalisation_is_idempotent_and_ignores_the_domains_case(address):
    FIGURES["hypothesis examples"] += 1
    once = _normalised_or_none(address)
    assume(once is not None)
    assert normalise_email(once) == once
    local, _, domain = address.rpartition("@")
    assert normalise_email(f"{local}@{domain.upper()}") == once
    assert normalise_email(f"  {address}\t") == once  # surrounding blanks are not the address


@settings(max_examples=300, deadline=None)
@given(
    ADDRESS,
    st.sampled_from(["\r", "\n", "\r\n"]),
    st.integers(min_value=1, max_value=60),
    st.text(max_size=20),
)
def test_an_address_with_cr_or_lf_inside_is_never_accepted(address, breaker, at, tail):
    FIGURES["hypothesis examples"] += 1
    position = 1 + at % (len(address) - 1)  # strictly inside the address
    hostile = address[:position] + breaker + tail + address[position:]
    with pytest.raises(InvalidAddress):
        normalise_email(hostile)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | ADDRESS.map(lambda a: f"\r\n{a}\r\n"))
def test_no_normalised_address_contains_cr_or_lf(anything):
    """Blank characters around an address (a trailing newline from a paste) are
    stripped like spaces; whatever comes back never carries a CR or LF."""
    FIGURES["hypothesis examples"] += 1
    result = _normalised_or_none(anything)
    assert result is None or ("\r" not in result and "\n" not in result)


@settings(max_examples=200, deadline=None)
@given(PAYLOAD, PURPOSES, PURPOSES)
def test_a_token_verifies_only_for_its_own_purpose(payload, purpose, other):
    FIGURES["hypothesis examples"] += 1
    token = signing.sign(purpose, payload)
    assert signing.unsign(purpose, token) == payload
    if other != purpose:
        with pytest.raises(signing.InvalidToken):
            signing.unsign(other, token)


@settings(max_examples=300, deadline=None)
@given(PAYLOAD, PURPOSES, st.data())
def test_a_tampered_token_is_never_accepted(payload, purpose, data):
    FIGURES["hypothesis examples"] += 1
    token = signing.sign(purpose, payload)
    at = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHabcdefgh0123456789-_."))
    assume(token[at] != replacement)
    tampered = token[:at] + replacement + token[at + 1 :]
    try:
        value = signing.unsign(purpose, tampered)
    except signing.InvalidToken:
        return
    # base64 padding bits can absorb a change in the last character of a part without
    # changing the decoded bytes; then the signed content is the same, never different.
    assert value == payload


@settings(max_examples=100, deadline=None)
@given(PAYLOAD, PURPOSES, st.integers(min_value=1, max_value=10**6))
def test_an_expired_token_is_refused_as_expired(payload, purpose, age):
    FIGURES["hypothesis examples"] += 1

    class SignedEarlier(TimestampSigner):
        def get_timestamp(self) -> int:  # signed `age + 1` seconds ago
            return int(time.time()) - age - 1

    old = URLSafeTimedSerializer(
        get_settings().secret_keys, salt=f"coopclub.{purpose.value}", signer=SignedEarlier
    )
    token = old.dumps(payload)
    with pytest.raises(signing.ExpiredToken):
        signing.unsign(purpose, token, max_age=age)
    assert signing.unsign(purpose, token, max_age=age + 60) == payload


@settings(max_examples=100, deadline=None)
@given(PAYLOAD, PURPOSES)
def test_a_token_signed_with_a_key_we_do_not_hold_is_refused(payload, purpose):
    FIGURES["hypothesis examples"] += 1
    stranger = URLSafeTimedSerializer(
        "not-one-of-our-keys-0123456789", salt=f"coopclub.{purpose.value}"
    )
    with pytest.raises(signing.InvalidToken):
        signing.unsign(purpose, stranger.dumps(payload))
