"""`coopclub check`: the preflight a sysadmin runs before (and after) going live; the
command itself is at the end.

Each check looks at one thing a production deployment needs (the settings, the
database and its migrations, Redis, the SMTP relay, the DKIM keys, the consent log's
signing key) and says what it found, naming the setting to change when something is
wrong. It reads only the settings it is given: no global engine, broker or cache.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from app.config import ENV_PREFIX, Settings, get_settings

DEFAULT_POSTAL_ADDRESS = "Co-op Data Club, 1 Commons Lane, Toronto ON M5V 0A1, Canada"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Finding:
    """One thing a check looked at: `problem` fails the preflight, `note` does not."""

    check: str
    level: str  # "ok", "note" or "problem"
    text: str

    def line(self) -> str:
        mark = {"ok": "ok     ", "note": "note   ", "problem": "PROBLEM"}[self.level]
        return f"{mark} {self.check}: {self.text}"


def _ok(check: str, text: str) -> Finding:
    return Finding(check, "ok", text)


def _problem(check: str, text: str) -> Finding:
    return Finding(check, "problem", text)


def _note(check: str, text: str) -> Finding:
    return Finding(check, "note", text)


# Settings --------------------------------------------------------------------------------


def check_settings(settings: Settings) -> Iterator[Finding]:
    name = "settings"
    env = ENV_PREFIX
    if not settings.is_production:
        yield _problem(name, f"{env}ENV is {settings.env}: set {env}ENV=production")
    if any(len(key) < 32 for key in settings.secret_keys):
        yield _problem(name, f"{env}SECRET_KEYS: use keys of 32 characters or more")
    if len(set(settings.secret_keys)) != len(settings.secret_keys):
        yield _problem(name, f"{env}SECRET_KEYS: the same key is listed twice")
    if not settings.suppression_pepper:
        yield _problem(name, f"{env}SUPPRESSION_PEPPER is not set")
    elif settings.suppression_pepper in settings.secret_keys:
        yield _problem(name, f"{env}SUPPRESSION_PEPPER must not be one of the secret keys")
    host = urlsplit(settings.base_url).hostname or ""
    if not settings.https:
        yield _problem(name, f"{env}BASE_URL is {settings.base_url}: the public URL is https://")
    if host in LOOPBACK or host.endswith((".invalid", ".test", ".localhost")):
        yield _problem(name, f"{env}BASE_URL's host {host} is not a public name")
    if settings.database_kind != "postgresql":
        yield _problem(name, f"{env}DATABASE_URL: production runs on PostgreSQL, not SQLite")
    if settings.broker_kind != "redis":
        yield _problem(name, f"{env}REDIS_URL is not set: web and workers share jobs through it")
    if settings.mail_kind != "smtp":
        yield _problem(name, f"{env}SMTP_URL is not set: mail would only go to var/outbox")
    from_domain = settings.mail_from.rpartition("@")[2].strip(" >").lower()
    if from_domain.endswith((".invalid", ".test", ".example", ".localhost")):
        yield _problem(name, f"{env}MAIL_FROM is on {from_domain}, which receives no mail")
    if settings.postal_address == DEFAULT_POSTAL_ADDRESS:
        yield _problem(name, f"{env}POSTAL_ADDRESS is the example one: every email shows it")
    if not settings.log_signing_key_path:
        yield _problem(
            name, f"{env}LOG_SIGNING_KEY_PATH is not set (coopclub consent new-key PATH)"
        )
    if settings.stripe_secret_key and not settings.stripe_webhook_secret:
        yield _problem(name, f"{env}STRIPE_WEBHOOK_SECRET is needed with STRIPE_SECRET_KEY")
    if settings.metrics_token is not None and len(settings.metrics_token) < 24:
        yield _problem(name, f"{env}METRICS_TOKEN: use 24 characters or more")
    if not settings.trusted_proxies:
        yield _note(
            name,
            f"{env}TRUSTED_PROXIES is empty: behind a reverse proxy every visitor shares "
            "its address for the rate limits (docs/deploy.md)",
        )
    if not settings.bounce_webhook_secret:
        yield _note(name, f"{env}BOUNCE_WEBHOOK_SECRET is not set: /webhooks/bounces is off")
    if settings.log_format != "json":
        yield _note(name, f"{env}LOG_FORMAT=json gives one JSON object per log line")


def check_settings_summary(settings: Settings) -> Iterator[Finding]:
    findings = list(check_settings(settings))
    yield from findings
    if not any(f.level == "problem" for f in findings):
        yield _ok("settings", f"production settings for {settings.base_url}")


# Services --------------------------------------------------------------------------------


def check_database(settings: Settings) -> Iterator[Finding]:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines would bury ours
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from app.db import make_engine
    from app.migrations import alembic_config

    name = "database"
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        yield _problem(name, f"cannot connect ({_first_line(exc)}): check {ENV_PREFIX}DATABASE_URL")
        return
    finally:
        engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "no revision (empty)"
        yield _problem(
            name, f"at {at}, the code needs {', '.join(sorted(heads))}: run coopclub db upgrade"
        )
        return
    yield _ok(name, f"reachable, migrated to {', '.join(sorted(heads))}")


def check_redis(settings: Settings) -> Iterator[Finding]:
    if not settings.redis_url:
        return
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        yield _problem("redis", f"cannot reach {_safe_url(settings.redis_url)}: {exc}")
        return
    finally:
        client.close()
    yield _ok("redis", f"{_safe_url(settings.redis_url)} answers")


def check_smtp(settings: Settings) -> Iterator[Finding]:
    """Connect, EHLO, STARTTLS and AUTH as configured, one step at a time, so the
    finding names the step that failed; no message is sent."""
    smtp = settings.smtp
    if smtp is None:
        return
    name, where = "smtp", f"{smtp.host}:{smtp.port}"
    context = ssl.create_default_context()
    try:
        if smtp.ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=10, context=context
            )
        else:
            connection = smtplib.SMTP(smtp.host, smtp.port, timeout=10)
    except (OSError, smtplib.SMTPException) as exc:
        yield _problem(name, f"cannot connect to {where}: {exc}")
        return
    steps = ["connected" + (" over TLS" if smtp.ssl else "")]
    try:
        code, _ = connection.ehlo()
        if code != 250:
            yield _problem(name, f"{where} refused EHLO ({code})")
            return
        steps.append("EHLO")
        if smtp.starttls:
            if not connection.has_extn("starttls"):
                yield _problem(name, f"{where} does not offer STARTTLS, but SMTP_URL asks for it")
                return
            try:
                connection.starttls(context=context)
                connection.ehlo()
            except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
                yield _problem(name, f"STARTTLS with {where} failed: {exc}")
                return
            steps.append("STARTTLS")
        if smtp.username:
            try:
                connection.login(smtp.username, smtp.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                yield _problem(
                    name, f"{where} refused the login for {smtp.username} ({exc.smtp_code})"
                )
                return
            except smtplib.SMTPNotSupportedError:
                yield _problem(name, f"{where} offers no AUTH, but SMTP_URL has a user name")
                return
            steps.append("AUTH")
            if not (smtp.ssl or smtp.starttls) and smtp.host not in LOOPBACK:
                yield _problem(
                    name, f"the password to {where} travels in clear: use smtps:// or ?starttls=1"
                )
    except (OSError, smtplib.SMTPException) as exc:
        yield _problem(name, f"{where} broke off after {', '.join(steps)}: {exc}")
        return
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
    yield _ok(name, f"{where}: {', '.join(steps)}")


# Keys ------------------------------------------------------------------------------------


def _private_file(path: Path) -> str | None:
    """Why a secret file is unfit, or None."""
    try:
        mode = path.stat().st_mode
        path.read_bytes()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by others than its owner: chmod 600 {path}"
    return None


def check_dkim(settings: Settings) -> Iterator[Finding]:
    """Each key loads, is RSA (2048 bits or more advised), and signs a test
    message that verifies against the public record we tell you to publish."""
    import dkim

    from app.mailing.dkim_signer import load_key, sign

    for entry in settings.signing_domains:
        name = f"dkim {entry.selector}._domainkey.{entry.domain}"
        if entry.private_key_path is None:
            yield _note(name, "a relay signs for this domain: publish the key it gives you")
            continue
        unfit = _private_file(entry.private_key_path)
        if unfit:
            yield _problem(name, unfit)
            continue
        try:
            key = load_key(entry)
        except ValueError as exc:
            yield _problem(name, f"{entry.private_key_path} is not a usable key: {exc}")
            continue
        assert key is not None
        bits = key.private_key.key_size
        message = (
            f"From: check@{entry.domain}\r\nTo: check@{entry.domain}\r\n"
            "Subject: coopclub check\r\n\r\nA test of the signature.\r\n"
        ).encode()
        record = key.public_record().encode()
        verified = dkim.verify(
            sign(message, key), dnsfunc=lambda _name, timeout=5, record=record: record
        )
        if not verified:
            yield _problem(name, "a message signed with the key does not verify")
            continue
        advice = "" if bits >= 2048 else " (2048 bits are advised)"
        yield _ok(
            name, f"{bits}-bit RSA key at {entry.private_key_path} signs and verifies{advice}"
        )


def check_log_key(settings: Settings) -> Iterator[Finding]:
    from app.consent.merkle import NoteSigner

    name = "consent log key"
    path = settings.log_signing_key_path or settings.var_dir / "consent_log_key"
    if not path.exists():
        yield _problem(name, f"no key at {path} (coopclub consent new-key {path})")
        return
    unfit = _private_file(path)
    if unfit:
        yield _problem(name, unfit)
        return
    try:
        signer = NoteSigner.parse(path.read_text())
    except ValueError as exc:
        yield _problem(name, f"{path} is not a log signing key: {exc}")
        return
    wanted = settings.log_origin
    if wanted is not None and signer.name != wanted:
        yield _problem(
            name, f"the key is for {signer.name!r} but {ENV_PREFIX}LOG_ORIGIN is {wanted!r}"
        )
        return
    yield _ok(name, f"{path} signs for {signer.name}")


# Running them ----------------------------------------------------------------------------

CHECKS: list[Callable[[Settings], Iterator[Finding]]] = [
    check_settings_summary,
    check_database,
    check_redis,
    check_smtp,
    check_dkim,
    check_log_key,
]


def run_checks(
    settings: Settings, *, resolve_dns: bool = False, dns_server: str | None = None
) -> list[Finding]:
    """Every check; with `resolve_dns`, the published DNS records too (dnspython, the
    system's resolver or `dns_server`)."""
    findings: list[Finding] = []
    for check in CHECKS:
        findings += list(check(settings))
    if resolve_dns:
        from app.mailing.dns_check import check_published, make_resolver
        from app.mailing.dns_records import required_dns_records

        findings += check_published(required_dns_records(settings), make_resolver(dns_server))
    return findings


def records_to_publish(settings: Settings) -> str:
    """The DNS records each sending domain needs, as zone-file lines with why."""
    from app.mailing.dns_records import required_dns_records

    lines = []
    for record in required_dns_records(settings):
        lines += [f"; {record.kind} for {record.domain}: {record.why}", record.zone_line()]
    return "\n".join(lines)


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _safe_url(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


# The command -------------------------------------------------------------------------


@click.command()
@click.option(
    "--dns",
    "resolve_dns",
    is_flag=True,
    help="Look up the published SPF, DKIM and DMARC records and compare them.",
)
@click.option(
    "--dns-server",
    default=None,
    metavar="HOST[:PORT]",
    help="With --dns: ask this name server (e.g. the zone's own) instead of the system's resolver.",
)
def check(resolve_dns: bool, dns_server: str | None) -> None:
    """Preflight for production: the settings, the database (reachable, migrated), Redis,
    the SMTP relay (connect, EHLO, STARTTLS and AUTH as configured), the DKIM keys and the
    consent log's signing key. Without --dns it prints the DNS records to publish. Exits 1
    when any PROBLEM line was printed (docs/deploy.md)."""
    settings = get_settings()
    findings = run_checks(settings, resolve_dns=resolve_dns, dns_server=dns_server)
    for finding in findings:
        click.echo(finding.line())
    if not resolve_dns:
        click.echo("\nDNS records to publish (then run coopclub check --dns):")
        click.echo(records_to_publish(settings))
    problems = sum(finding.level == "problem" for finding in findings)
    if problems:
        click.echo(f"\n{problems} problem(s): not ready for production", err=True)
        sys.exit(1)
    click.echo("\nready for production")
