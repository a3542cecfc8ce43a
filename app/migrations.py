"""Applying the Alembic migrations, the only source of the schema, and the grants of the
least-privileged role the app runs as in production (docs/consent-log.md)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.config import Config
from sqlalchemy import text

from alembic import command
from app.db import get_engine, make_engine

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# The ledger and its log: the app may only read and append; nobody edits the past.
APPEND_ONLY_TABLES = (
    "consent_event",
    "consent_text",
    "consent_log_entry",
    "consent_log_node",
    "consent_checkpoint",
)


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return config


def upgrade(revision: str = "heads", *, url: str | None = None) -> None:
    """Migrate the configured database, or the one at `url` (e.g. as its owner role)."""
    config = alembic_config()
    if url is None:
        command.upgrade(config, revision)
        return
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def app_role_grants(role: str) -> list[str]:
    """The SQL that gives `role` what the app needs on PostgreSQL and nothing more:
    reading and writing its own tables, but only SELECT and INSERT on the ledger and the
    consent log, no DDL, no TRUNCATE, and only reading the migration version."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"{role!r} is not a plain lower-case PostgreSQL role name")
    ledger = ", ".join(APPEND_ONLY_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {ledger} FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {role}",
    ]


def grant_app_role(role: str, *, url: str | None = None) -> None:
    """Apply `app_role_grants` as the owner (after every upgrade: new tables need them)."""
    engine = make_engine(url) if url else get_engine()
    try:
        with engine.begin() as connection:
            if connection.dialect.name != "postgresql":
                raise ValueError("roles and grants are a PostgreSQL matter")
            for statement in app_role_grants(role):
                connection.execute(text(statement))
    finally:
        if url:
            engine.dispose()
