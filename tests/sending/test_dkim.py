"""DKIM: the signature covers List-Unsubscribe and List-Unsubscribe-Post and verifies."""

import re
import shutil

import dkim
import pytest

from app.config import get_settings
from tests.mailing.kinds import make_key
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def dkim_key(tmp_path, monkeypatch):
    """The original three settings (COOPCLUB_DKIM_SELECTOR/_DOMAIN/_PRIVATE_KEY_PATH)."""
    private, record = make_key(tmp_path)
    settings = get_settings()
    monkeypatch.setattr(settings, "dkim_selector", "club2026")
    monkeypatch.setattr(settings, "dkim_domain", "club.example.org")
    monkeypatch.setattr(settings, "dkim_private_key_path", private)
    return record


def test_newsletters_are_signed_over_the_unsubscribe_headers(dkim_key, smtp, run_jobs):
    food = make_topic("food")
    people.active("reader@example.org", [food])
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[food])))
    run_jobs()
    smtp.clear()
    people.start_now(issue)
    run_jobs()
    (received,) = smtp.to("reader@example.org")
    signature = received.message["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", signature.replace("\r\n", "").replace(" ", "")).group(1)
    names = {n.lower() for n in signed.split(":")}
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject", "list-id"} <= names

    def dns(name, timeout=5):
        assert name == b"club2026._domainkey.club.example.org."
        return dkim_key

    assert dkim.verify(received.raw, dnsfunc=dns)
    tampered = received.raw.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nothing"
    )
    assert not dkim.verify(tampered, dnsfunc=dns)
