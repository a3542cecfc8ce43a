"""The DNS records each sending domain needs, as `coopclub check` prints them."""

import base64
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from app.config import Settings, parse_dkim_keys
from app.mailing.dkim_signer import load_key
from app.mailing.dns_records import required_dns_records

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def test_each_domain_gets_spf_dkim_and_dmarc(tmp_path):
    key = tmp_path / "k.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    settings = Settings(
        secret_keys=["x" * 20],
        mail_from="Club <news@club.example.org>",
        smtp_url="smtp://mail.club.example.org:587",
        dkim_keys=f"club.example.org:s2026:{key},members.example.org:relay1",
    )
    records = {(r.domain, r.kind): r for r in required_dns_records(settings)}
    assert set(records) == {
        (d, k)
        for d in ("club.example.org", "members.example.org")
        for k in ("SPF", "DKIM", "DMARC")
    }
    dkim = records[("club.example.org", "DKIM")]
    assert dkim.name == "s2026._domainkey.club.example.org"
    public = load_key(parse_dkim_keys(f"club.example.org:s2026:{key}")[0]).private_key.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert dkim.value == "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    assert "relay" in records[("members.example.org", "DKIM")].value
    assert records[("club.example.org", "SPF")].value == "v=spf1 a:mail.club.example.org -all"
    assert records[("club.example.org", "DMARC")].name == "_dmarc.club.example.org"
    assert records[("club.example.org", "DMARC")].value.startswith("v=DMARC1; p=")


def test_mail_from_must_be_a_signing_domain():
    with pytest.raises(ValueError, match="not among the signing domains"):
        Settings(
            secret_keys=["x" * 20],
            mail_from="Club <news@elsewhere.example>",
            dkim_keys="club.example.org:relay1",
        )
