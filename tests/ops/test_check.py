"""`coopclub check`: a production setup passes; each broken piece is named (settings,
database, Redis, SMTP steps, DKIM keys, the log key), and with --dns the published
records are compared with what they should be, against a real DNS server in the test."""

from __future__ import annotations

import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from app.config import ENV_PREFIX, load_settings
from app.consent.log import generate_key_file
from app.mailing.dns_check import check_published, make_resolver
from app.mailing.dns_records import required_dns_records
from app.preflight import run_checks
from tests import processes
from tests.ops.servers import TinyDns, TlsRelay

RELAY_USER, RELAY_PASSWORD = "club", "relay-password-0123"


def write_rsa_key(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def relay(tmp_path, monkeypatch):
    with TlsRelay(tmp_path, RELAY_USER, RELAY_PASSWORD) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))  # trust its certificate
        yield server


@pytest.fixture
def production(tmp_path, relay):
    """Settings a real deployment would have, as COOPCLUB_* names (lower case)."""
    log_key = tmp_path / "consent_log_key"
    generate_key_file(log_key, "club.example.org/consent-log")
    return {
        "env": "production",
        "secret_keys": "a" * 40 + "," + "b" * 40,
        "suppression_pepper": "p" * 64,
        "base_url": "https://club.example.org",
        "database_url": os.environ["COOPCLUB_DATABASE_URL"],
        "redis_url": os.environ.get("COOPCLUB_REDIS_URL", ""),
        "smtp_url": f"smtp://{RELAY_USER}:{RELAY_PASSWORD}@127.0.0.1:{relay.port}?starttls=1",
        "mail_from": "Co-op Data Club <news@club.example.org>",
        "postal_address": "Co-op Data Club, 12 Real Street, Winnipeg MB R3C 0A1, Canada",
        "dkim_keys": f"club.example.org:cc2026:{write_rsa_key(tmp_path / 'dkim.pem')},"
        "lists.example.net:relay1",
        "log_signing_key_path": str(log_key),
        "trusted_proxies": "127.0.0.1",
        "bounce_webhook_secret": "w" * 32,
        "log_format": "json",
    }


def run_cli(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **{f"{ENV_PREFIX}{k.upper()}": v for k, v in settings.items()})
    return subprocess.run(
        [*processes.COOPCLUB, "check", *args], env=env, capture_output=True, text=True, timeout=120
    )


def problems(settings: dict[str, str], about: str, **changes: str) -> list[str]:
    """The problems `coopclub check` finds with `changes`, from the checks named `about`
    (on SQLite the settings check also names the database, whatever the test changes)."""
    findings = run_checks(load_settings(**(settings | changes)))
    return [f.line() for f in findings if f.level == "problem" and f.check.startswith(about)]


def published_zone(settings: dict[str, str]) -> dict[str, list[str]]:
    zone: dict[str, list[str]] = {}
    for record in required_dns_records(load_settings(**settings)):
        value = record.value
        if value.startswith("(the public key"):  # a relay signs: it gave us its key
            value = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx"
        zone.setdefault(record.name, []).append(value)
    return zone


@pytest.mark.postgres
@pytest.mark.redis
def test_a_production_setup_passes_and_prints_then_finds_its_dns_records(production):
    result = run_cli(production)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "PROBLEM" not in out and "ready for production" in out
    assert "ok      database: reachable, migrated to" in out
    assert "STARTTLS, AUTH" in out
    assert "2048-bit RSA key" in out and "signs for club.example.org/consent-log" in out
    assert "a relay signs for this domain" in out  # lists.example.net
    # The records to publish, as zone lines, for both domains.
    assert 'cc2026._domainkey.club.example.org. IN TXT "v=DKIM1; k=rsa; p=' in out
    assert '_dmarc.lists.example.net. IN TXT "v=DMARC1; p=none' in out
    assert 'club.example.org. IN TXT "v=spf1 mx -all"' in out

    with TinyDns(published_zone(production)) as server:
        checked = run_cli(production, "--dns", "--dns-server", server.address)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("published as it should be") == 6  # 3 kinds x 2 domains
    assert "_dmarc.club.example.org" in server.questions


def test_a_broken_setup_names_each_problem_and_exits_1(production, tmp_path):
    dkim_key = write_rsa_key(tmp_path / "loose.pem")
    dkim_key.chmod(0o644)
    broken = production | {
        "env": "development",
        "base_url": "http://127.0.0.1:8000",
        "database_url": f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
        "redis_url": "redis://127.0.0.1:1/0",
        "smtp_url": production["smtp_url"].replace(RELAY_PASSWORD, "wrong-password"),
        "postal_address": "Co-op Data Club, 1 Commons Lane, Toronto ON M5V 0A1, Canada",
        "dkim_keys": f"club.example.org:cc2026:{dkim_key}",
        "log_signing_key_path": str(tmp_path / "missing_key"),
    }
    result = run_cli(broken)
    assert result.returncode == 1
    out = result.stdout
    for expected in (
        "settings: COOPCLUB_ENV is development",
        "settings: COOPCLUB_BASE_URL is http://127.0.0.1:8000",
        "settings: COOPCLUB_DATABASE_URL: production runs on PostgreSQL",
        "settings: COOPCLUB_POSTAL_ADDRESS is the example one",
        "database: at no revision (empty), the code needs",
        "redis: cannot reach redis://127.0.0.1:1/0",
        f"smtp: 127.0.0.1:{production['smtp_url'].rsplit(':', 1)[1].split('?')[0]} refused "
        f"the login for {RELAY_USER}",
        f"dkim cc2026._domainkey.club.example.org: {dkim_key} is readable by others",
        f"consent log key: no key at {tmp_path / 'missing_key'}",
    ):
        assert f"PROBLEM {expected}" in out, f"{expected!r} not in:\n{out}"
    assert "problem(s): not ready for production" in result.stderr
    assert "wrong-password" not in out + result.stderr


def test_each_smtp_step_that_fails_is_named(production, relay, smtp, monkeypatch):
    port = relay.port
    plain_login = f"smtp://{RELAY_USER}:{RELAY_PASSWORD}@127.0.0.1:{port}"
    assert problems(production, "smtp", smtp_url=plain_login) == [
        f"PROBLEM smtp: 127.0.0.1:{port} offers no AUTH, but SMTP_URL has a user name"
    ]
    assert problems(production, "smtp", smtp_url=f"{smtp.url}?starttls=1") == [
        f"PROBLEM smtp: 127.0.0.1:{smtp.port} does not offer STARTTLS, but SMTP_URL asks for it"
    ]
    monkeypatch.delenv("SSL_CERT_FILE")  # the relay's certificate is nobody's now
    [untrusted] = problems(production, "smtp")
    assert f"STARTTLS with 127.0.0.1:{port} failed" in untrusted and "certificate" in untrusted
    [closed] = problems(production, "smtp", smtp_url="smtp://127.0.0.1:1")
    assert closed.startswith("PROBLEM smtp: cannot connect to 127.0.0.1:1")


def test_keys_that_cannot_sign_are_named(production, tmp_path):
    not_rsa = tmp_path / "ed25519.pem"
    not_rsa.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    not_rsa.chmod(0o600)
    [line] = problems(production, "dkim", dkim_keys=f"club.example.org:s1:{not_rsa}")
    assert "is not a usable key: " in line and "must be an RSA key" in line
    [line] = problems(production, "consent log", log_origin="another.example/consent-log")
    assert "the key is for 'club.example.org/consent-log'" in line
    garbage = tmp_path / "garbage_key"
    garbage.write_text("not a key\n")
    garbage.chmod(0o600)
    [line] = problems(production, "consent log", log_signing_key_path=str(garbage))
    assert "is not a log signing key" in line


def test_published_records_that_differ_are_named(production, tmp_path):
    zone = published_zone(production)
    other_key = write_rsa_key(tmp_path / "other.pem")
    zone["club.example.org"] = ["v=spf1 mx -all", "v=spf1 a:mail.example.org -all"]
    zone["cc2026._domainkey.club.example.org"] = [
        required_dns_records(
            load_settings(**production | {"dkim_keys": f"club.example.org:cc2026:{other_key}"})
        )[1].value
    ]
    del zone["_dmarc.club.example.org"]
    zone["lists.example.net"] = ["v=spf1 mx +all"]
    with TinyDns(zone) as server:
        findings = check_published(
            required_dns_records(load_settings(**production)), make_resolver(server.address)
        )
    found = {f.check: (f.level, f.text) for f in findings}
    assert found["dns SPF club.example.org"][0] == "problem"
    assert "2 SPF records" in found["dns SPF club.example.org"][1]
    assert "not the one we sign with" in found["dns DKIM cc2026._domainkey.club.example.org"][1]
    assert "no DMARC policy" in found["dns DMARC _dmarc.club.example.org"][1]
    assert "so anyone may send" in found["dns SPF lists.example.net"][1]
    assert found["dns DKIM relay1._domainkey.lists.example.net"][0] == "ok"  # the relay's key
    assert found["dns DMARC _dmarc.lists.example.net"][0] == "ok"
