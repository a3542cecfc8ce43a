"""DKIM: the signature covers List-Unsubscribe and List-Unsubscribe-Post and verifies."""

import base64
import re
import shutil
import subprocess

import dkim
import pytest

from app.config import get_settings
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def dkim_key(tmp_path, monkeypatch):
    private = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    settings = get_settings()
    monkeypatch.setattr(settings, "dkim_selector", "club2026")
    monkeypatch.setattr(settings, "dkim_domain", "club.example.org")
    monkeypatch.setattr(settings, "dkim_private_key_path", private)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)


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
