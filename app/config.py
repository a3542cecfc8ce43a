"""The one settings object: every knob is an environment variable prefixed COOPCLUB_.

Unset values fall back to the embedded default (SQLite under var/, an in-process
broker, a file outbox), so the service runs with no servers at all.
"""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "COOPCLUB_"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


class SmtpConfig(BaseModel):
    """SMTP_URL taken apart: smtp://user:pass@host:port, smtps:// for TLS, ?starttls=1."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    starttls: bool = False
    timeout: float = 30.0


class SigningDomain(BaseModel):
    """A domain the Club signs mail for with DKIM. Without a key path a relay signs
    for it (Postfix with OpenDKIM, a provider): it still counts for alignment."""

    domain: str
    selector: str
    private_key_path: Path | None = None


def parse_dkim_keys(value: str) -> list[SigningDomain]:
    """`domain:selector:/path/key.pem` entries separated by commas; the path may be left
    out (`domain:selector`) when a relay signs."""
    entries = []
    for part in value.split(","):
        if not part.strip():
            continue
        fields = [f.strip() for f in part.strip().split(":", 2)]
        if len(fields) < 2 or not all(fields[:2]):
            raise ValueError(
                f"{part.strip()!r}: write each entry as domain:selector:/path/to/key.pem "
                "(or domain:selector when a relay signs)"
            )
        path = Path(fields[2]) if len(fields) == 3 and fields[2] else None
        if path is not None and not path.is_file():
            raise ValueError(f"no DKIM private key at {path}")
        entries.append(
            SigningDomain(domain=fields[0].lower(), selector=fields[1], private_key_path=path)
        )
    return entries


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    redis_namespace: str = "coopclub"
    smtp_url: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    secret_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mail_from: str = "Co-op Data Club <newsletter@coopdata.club.invalid>"
    postal_address: str = "Co-op Data Club, 1 Commons Lane, Toronto ON M5V 0A1, Canada"
    # The language of pages and mail when nothing better is known (app/i18n.py):
    # one of en, fr, es.
    default_language: Literal["en", "fr", "es"] = "en"
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    stripe_publishable_key: str | None = None  # for Stripe.js on the booking page
    # Team invitations a member may send per hour, and an address may receive per day.
    invitations_per_member: int = Field(default=10, ge=1)
    invitations_per_address: int = Field(default=3, ge=1)
    # The highest price an admin may set for a slot, in minor units (cents).
    max_price: int = Field(default=10_000_000, ge=1, le=2**31 - 1)
    embedded_worker_threads: int = Field(default=4, ge=1, le=64)
    sweep_interval_seconds: float = Field(default=30.0, gt=0)
    # A queued transactional mail whose job has not run by then is presumed lost with
    # its message, and the sweep sends the job again.
    transactional_retry_after_seconds: float = Field(default=60.0, gt=0)
    # Transactional mail (confirmations, login links) has worker threads of its own in
    # every worker process, so a long newsletter send never delays it.
    transactional_worker_threads: int = Field(default=2, ge=1, le=64)
    # `coopclub worker` runs its Dramatiq processes (every job) this much lower in CPU
    # priority (nice, and on Linux their autogroup's too; 0 = as started), so on a
    # machine that also runs web processes a request waiting for the CPU runs first
    # (docs/deploy.md, "Web and worker on one machine"). Its earlier name,
    # COOPCLUB_TRANSACTIONAL_WORKER_NICE, is still read.
    worker_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        validation_alias=AliasChoices(
            f"{ENV_PREFIX}WORKER_NICE", f"{ENV_PREFIX}TRANSACTIONAL_WORKER_NICE", "worker_nice"
        ),
    )
    # Sent and failed transactional mail rows (address, subject; the body is dropped
    # once sent) are deleted after this many days.
    transactional_retention_days: int = Field(default=7, ge=1)
    # Signup attempts allowed per client address (per 10 minutes) and per email address
    # (per hour), on every signup form and the API; 0 turns that limit off.
    signup_limit_per_client: int = Field(default=20, ge=0)
    signup_limit_per_address: int = Field(default=5, ge=0)
    # The send pipeline
    send_batch_size: int = Field(default=500, ge=1, le=10_000)
    send_rate_per_second: int = Field(default=0, ge=0)  # 0: as fast as the server takes
    send_domain_concurrency: int = Field(default=0, ge=0)  # 0: no per-domain limit
    failure_streak_limit: int = Field(default=50, ge=1)
    send_retry_delay_seconds: float = Field(default=60.0, gt=0)  # after a 4xx
    send_claim_lease_seconds: float = Field(
        default=600.0, gt=0
    )  # then a dead worker's batch resumes
    bounce_domain: str | None = None  # VERP return paths; default: MAIL_FROM's domain
    bounce_webhook_secret: str | None = None
    soft_bounce_limit: int = Field(default=3, ge=1)
    soft_bounce_window_days: int = Field(default=14, ge=1)
    # Recruiting credits: a recruit's credits wait this long (an erasure, hard bounce or
    # complaint in that time cancels them); at most this many recruits earn per member
    # per UTC day, and per member per recipient domain per UTC day (0: no cap).
    recruiting_hold_days: int = Field(default=30, ge=0, le=365)
    recruiting_cap_per_day: int = Field(default=50, ge=0)
    recruiting_cap_per_domain_per_day: int = Field(default=10, ge=0)
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key_path: Path | None = None
    # More signing domains: "domain:selector:/key.pem,other.org:selector2" (see README).
    dkim_keys: Annotated[list[SigningDomain], NoDecode] = Field(default_factory=list)
    # The consent transparency log (docs/consent-log.md): its name in every checkpoint
    # (default: BASE_URL's host + "/consent-log"), the Ed25519 key that signs checkpoints
    # and receipts (default: generated once as var/consent_log_key; required in
    # production), and how often the sequencer integrates new events.
    log_origin: str | None = None
    log_signing_key_path: Path | None = None
    log_sequencer_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # The licence the member directory's data is offered under (pages, API, exports).
    directory_licence: Literal["ODbL-1.0", "CC-BY-4.0"] = "ODbL-1.0"
    # Operations (docs/deploy.md)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # JSON and forms; 413 past it
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs); none by default.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The key of every suppression HMAC; generated once into var/ unless in production.
    suppression_pepper: str | None = None
    log_format: Literal["text", "json"] = "text"
    # GET /metrics needs "Authorization: Bearer <this>"; unset, /metrics is off (404).
    metrics_token: str | None = None
    # /readyz answers 503 once no sweep (so no worker) has run for this long.
    ready_stale_seconds: float = Field(default=180.0, gt=0)

    @field_validator("secret_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("dkim_keys", mode="before")
    @classmethod
    def _parse_dkim_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_dkim_keys(value)
        return value

    @field_validator("secret_keys")
    @classmethod
    def _long_enough(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if len(key) < 16:
                raise ValueError("each key must be at least 16 characters long")
        return keys

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address or network, e.g. 10.0.0.5 or 10.0.0.0/24"
                ) from None
        return proxies

    @field_validator("suppression_pepper")
    @classmethod
    def _pepper_long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("must be at least 32 characters long (e.g. openssl rand -hex 32)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value:
            return value
        scheme = urlsplit(value).scheme
        if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
            rest = value.split("://", 1)[1] if "://" in value else ""
            if not urlsplit("x://" + rest).hostname and "host=" not in rest:
                raise ValueError("a PostgreSQL URL needs a host, e.g. postgresql://user@host/db")
            return "postgresql+psycopg://" + rest
        if scheme == "sqlite":
            return value
        raise ValueError(
            f"unknown scheme {scheme or '(none)'!r}: use postgresql://… or sqlite:///path"
        )

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(
                f"unknown scheme {parts.scheme or '(none)'!r}: use redis://host:port/db"
            )
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("a Redis URL needs a host, e.g. redis://127.0.0.1:6379/0")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parse_smtp_url(value)
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL, e.g. https://club.example.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _dkim_complete(self) -> Settings:
        dkim = (self.dkim_selector, self.dkim_domain, self.dkim_private_key_path)
        if any(dkim) and not all(dkim):
            raise ValueError(
                "DKIM needs COOPCLUB_DKIM_SELECTOR, COOPCLUB_DKIM_DOMAIN and "
                "COOPCLUB_DKIM_PRIVATE_KEY_PATH together"
            )
        if self.dkim_private_key_path and not self.dkim_private_key_path.is_file():
            raise ValueError(f"no DKIM private key at {self.dkim_private_key_path}")
        return self

    @model_validator(mode="after")
    def _mail_from_signed(self) -> Settings:
        """Transactional mail goes out From MAIL_FROM: with signing domains set, it must
        be one of them (or below one), or every such message fails DMARC."""
        domains = [entry.domain for entry in self.signing_domains]
        domain = self.mail_from.rpartition("@")[2].strip(" >").lower()
        if domains and not any(domain == d or domain.endswith("." + d) for d in domains):
            raise ValueError(
                f"COOPCLUB_MAIL_FROM is on {domain}, which is not among the signing domains "
                f"({', '.join(domains)}): add it to COOPCLUB_DKIM_KEYS"
            )
        return self

    @model_validator(mode="after")
    def _defaults_from_var_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'coopclub.sqlite3'}"
        return self

    # Derived values -----------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.database_url.startswith("postgresql") else "sqlite"

    @property
    def broker_kind(self) -> str:
        return "redis" if self.redis_url else "embedded"

    @property
    def mail_kind(self) -> str:
        return "smtp" if self.smtp_url else "outbox"

    @property
    def payments_kind(self) -> str:
        return "stripe" if self.stripe_secret_key else "invoice"

    @property
    def smtp(self) -> SmtpConfig | None:
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def signing_domains(self) -> list[SigningDomain]:
        """Every domain the Club signs for: the DKIM_* trio as one entry, then DKIM_KEYS."""
        entries = []
        if self.dkim_selector and self.dkim_domain:
            entries.append(
                SigningDomain(
                    domain=self.dkim_domain.lower(),
                    selector=self.dkim_selector,
                    private_key_path=self.dkim_private_key_path,
                )
            )
        seen = {e.domain for e in entries}
        entries += [e for e in self.dkim_keys if e.domain not in seen]
        return entries

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")


def parse_smtp_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"unknown scheme {parts.scheme or '(none)'!r}: use smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("an SMTP URL needs a host, e.g. smtp://user:pass@mail.example.org:587")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("the port must be a number from 1 to 65535") from exc
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes")
    ssl = parts.scheme == "smtps"
    if ssl and starttls:
        raise ValueError("smtps:// is already TLS; drop ?starttls=1")
    return SmtpConfig(
        host=parts.hostname,
        port=port or (465 if ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=ssl,
        starttls=starttls,
    )


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a check across several variables names them itself
        return message
    name = str(first["loc"][0]).upper()  # a field's name, or an alias: the full name
    return f"{name if name.startswith(ENV_PREFIX) else ENV_PREFIX + name}: {message}"


def _embedded_secret(var_dir: Path, name: str) -> str:
    """Generate a random secret once into var/NAME and reuse it on every start."""
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus overrides); raise ConfigError with one readable line."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    if not settings.secret_keys:
        if settings.is_production:
            raise ConfigError(
                f"{ENV_PREFIX}SECRET_KEYS: required when {ENV_PREFIX}ENV=production "
                "(comma-separated, newest last)"
            )
        settings.secret_keys = [_embedded_secret(settings.var_dir, "secret_key")]
    if not settings.suppression_pepper:
        if settings.is_production:
            raise ConfigError(
                f"{ENV_PREFIX}SUPPRESSION_PEPPER: required when {ENV_PREFIX}ENV=production "
                "(at least 32 random characters; never change it, keep it with your backups)"
            )
        settings.suppression_pepper = _embedded_secret(settings.var_dir, "suppression_pepper")
    return settings


@lru_cache
def get_settings() -> Settings:
    return load_settings()
