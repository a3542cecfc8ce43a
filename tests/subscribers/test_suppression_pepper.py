"""Suppressions are keyed by COOPCLUB_SUPPRESSION_PEPPER, not by a signing key: those made
before it (under the first signing key) keep matching and are re-keyed when matched, and
removing the old signing key afterwards lifts no suppression, matched or not."""

from __future__ import annotations

import hashlib
import hmac
import subprocess

import pytest
from sqlmodel import select

from app import jobs
from app.config import ConfigError, get_settings, load_settings
from app.db import session_scope
from app.subscribers.models import Suppression
from app.subscribers.service import address_hmac, is_suppressed, suppress
from tests import processes
from tests.smtp_sink import free_port
from tests.subscribers.helpers import hidden, make_topics


def legacy_hmac(address: str) -> str:
    """What the code before the dedicated pepper stored: HMAC under the first key's pepper."""
    first_key = get_settings().secret_keys[0]
    pepper = hmac.new(first_key.encode(), b"coopclub.suppression-pepper.v1", hashlib.sha256)
    return hmac.new(pepper.digest(), address.encode(), hashlib.sha256).hexdigest()


def _stored_hmacs() -> set[str]:
    with session_scope() as session:
        return set(session.exec(select(Suppression.address_hmac)).all())


def test_a_suppression_made_before_the_pepper_still_matches_and_is_re_keyed():
    with session_scope() as session:
        session.add(Suppression(address_hmac=legacy_hmac("old@example.org"), reason="erased"))
    with session_scope() as session:
        assert is_suppressed(session, "Old@Example.org")
    assert _stored_hmacs() == {address_hmac("old@example.org")}
    with session_scope() as session:
        assert is_suppressed(session, "old@example.org")
        assert not is_suppressed(session, "new@example.org")
        suppress(session, "new@example.org", "hard bounce")
    assert _stored_hmacs() == {address_hmac("old@example.org"), address_hmac("new@example.org")}


def _sign_up(url: str, email: str) -> int:
    import httpx

    return httpx.post(
        f"{url}/api/v1/subscribe", json={"email": email, "topics": ["food"]}
    ).status_code


def test_removing_the_old_signing_key_lifts_no_suppression(smtp, run_jobs):
    make_topics()
    with session_scope() as session:
        # One suppression from before the pepper, never matched since; one made today.
        session.add(Suppression(address_hmac=legacy_hmac("legacy@example.org"), reason="erased"))
        suppress(session, "today@example.org", "complaint")
    # The upgrade seals the legacy pepper while the old key is still configured.
    upgrade = subprocess.run(
        [*processes.COOPCLUB, "db", "upgrade"], capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    # The old signing key is removed: only the newest one is left.
    newest = get_settings().secret_keys[-1]
    port = free_port()
    server = processes.serve(port, COOPCLUB_SECRET_KEYS=newest)
    try:
        answers = [
            _sign_up(f"http://127.0.0.1:{port}", email)
            for email in ("legacy@example.org", "today@example.org", "fresh@example.org")
        ]
    finally:
        processes.stop(server)
    assert answers == [202, 202, 202]  # the same answer whatever the address's state
    run_jobs()
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    assert smtp.wait_for("fresh@example.org")
    # Asking again, a suppressed person gets the confirmation (issue 14: only confirming
    # lifts a suppression); both suppressions still match until then.
    assert smtp.wait_for("legacy@example.org") and smtp.wait_for("today@example.org")
    with session_scope() as session:
        assert is_suppressed(session, "legacy@example.org")
        assert is_suppressed(session, "today@example.org")
    assert _stored_hmacs() == {
        address_hmac("legacy@example.org"),
        address_hmac("today@example.org"),
    }


def test_the_pepper_is_required_in_production_and_generated_once_otherwise(tmp_path):
    keys = "k" * 32
    with pytest.raises(ConfigError, match="^COOPCLUB_SUPPRESSION_PEPPER: required"):
        load_settings(env="production", secret_keys=keys, var_dir=tmp_path)
    with pytest.raises(ConfigError, match="COOPCLUB_SUPPRESSION_PEPPER: must be at least 32"):
        load_settings(secret_keys=keys, suppression_pepper="short", var_dir=tmp_path)
    first = load_settings(secret_keys=keys, var_dir=tmp_path).suppression_pepper
    assert first and first == load_settings(secret_keys=keys, var_dir=tmp_path).suppression_pepper
    assert (tmp_path / "suppression_pepper").stat().st_mode & 0o077 == 0


@pytest.mark.redis
def test_rate_limit_keys_in_redis_hold_no_address(client):
    make_topics()
    token = hidden(client.get("/login").text, "csrf_token")
    assert client.post(
        "/login", data={"email": "member@example.org", "csrf_token": token}
    ).is_success
    reader = {"email": "reader@example.org", "topics": ["food"]}
    assert client.post("/api/v1/subscribe", json=reader).status_code == 202
    names = [
        key.decode()
        for key in jobs.redis_client().scan_iter(match=f"{get_settings().redis_namespace}:app:*")
    ]
    assert len(names) == 4, names  # login per address and client, signup the same
    assert not [n for n in names if "@" in n or "example" in n or "testclient" in n], names
