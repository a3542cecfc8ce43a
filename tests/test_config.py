"""Settings: defaults, parsing, and one clear line naming the variable on bad input."""

import os
import subprocess
import sys

import pytest

from app.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "database_url",
            "mysql://root@localhost/x",
            "COOPCLUB_DATABASE_URL: unknown scheme 'mysql'",
        ),
        (
            "database_url",
            "postgresql:///nohost",
            "COOPCLUB_DATABASE_URL: a PostgreSQL URL needs a host",
        ),
        ("redis_url", "http://127.0.0.1:6379", "COOPCLUB_REDIS_URL: unknown scheme 'http'"),
        ("smtp_url", "imap://mail.example.org", "COOPCLUB_SMTP_URL: unknown scheme 'imap'"),
        (
            "smtp_url",
            "smtp://mail.example.org:99999",
            "COOPCLUB_SMTP_URL: the port must be a number",
        ),
        ("smtp_url", "smtps://h:465?starttls=1", "COOPCLUB_SMTP_URL: smtps:// is already TLS"),
        ("base_url", "club.example.org", "COOPCLUB_BASE_URL: must be an http:// or https:// URL"),
        ("secret_keys", "short", "COOPCLUB_SECRET_KEYS: each key must be at least 16"),
        ("env", "staging", "COOPCLUB_ENV:"),
    ],
)
def test_bad_values_name_the_variable(variable, value, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(**{variable: value})
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_smtp_url_is_taken_apart():
    settings = load_settings(smtp_url="smtp://user%40x:p%3Ass@mail.example.org:587?starttls=1")
    smtp = settings.smtp
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "mail.example.org",
        587,
        "user@x",
        "p:ss",
    )
    assert smtp.starttls and not smtp.ssl
    assert load_settings(smtp_url="smtps://mail.example.org").smtp.port == 465


def test_postgres_urls_use_psycopg3():
    settings = load_settings(database_url="postgresql://root@127.0.0.1:5432/test")
    assert settings.database_url == "postgresql+psycopg://root@127.0.0.1:5432/test"
    assert settings.database_kind == "postgresql"


def test_secret_keys_are_comma_separated_newest_last():
    settings = load_settings(secret_keys="a" * 16 + ", " + "b" * 16)
    assert settings.secret_keys == ["a" * 16, "b" * 16]


def test_embedded_default_generates_one_key_and_reuses_it(tmp_path):
    first = load_settings(secret_keys=[], var_dir=tmp_path)
    second = load_settings(secret_keys=[], var_dir=tmp_path)
    assert first.secret_keys == second.secret_keys
    assert len(first.secret_keys[0]) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_keys(tmp_path):
    with pytest.raises(
        ConfigError, match="^COOPCLUB_SECRET_KEYS: required when COOPCLUB_ENV=production"
    ):
        load_settings(env="production", secret_keys=[], var_dir=tmp_path)


def test_embedded_defaults(tmp_path):
    settings = load_settings(
        var_dir=tmp_path, database_url="", redis_url=None, smtp_url=None, stripe_secret_key=None
    )
    assert settings.database_url == f"sqlite:///{tmp_path / 'coopclub.sqlite3'}"
    assert (
        settings.database_kind,
        settings.broker_kind,
        settings.mail_kind,
        settings.payments_kind,
    ) == ("sqlite", "embedded", "outbox", "invoice")


def test_cli_stops_with_one_line_naming_the_variable(tmp_path):
    env = dict(os.environ, COOPCLUB_REDIS_URL="memcached://x", COOPCLUB_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "coopclub: COOPCLUB_REDIS_URL: unknown scheme 'memcached': use redis://host:port/db"
    )
