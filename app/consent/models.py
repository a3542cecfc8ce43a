"""Consent texts (versioned, never edited) and ConsentEvents (the append-only ledger).

A ConsentEvent names its subscriber only by `subscriber_key`, an opaque random value
that is not a foreign key and not personal data: erasing a person deletes their
Subscriber row (address, name) while every event, and so the hash chain, stays intact.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow

GENESIS_HASH = "0" * 64


class ConsentScope(StrEnum):
    topic = "topic"  # receive a topic's newsletters
    sharing = "sharing"  # other member co-ops may send offers on this topic
    sponsored = "sponsored"  # sponsored content in the Club's newsletters


class ConsentAction(StrEnum):
    requested = "requested"
    confirmed = "confirmed"
    withdrawn = "withdrawn"
    # A request the person turned down or let go (a box left unticked, a pending topic
    # unticked, an unsubscribe before confirming): nothing was given, so nothing is
    # withdrawn, and it is no unsubscribe.
    declined = "declined"
    erased = "erased"
    # A suppression of the address was lifted by a confirmed double opt-in.
    lifted = "lifted"


class ConsentSource(StrEnum):
    form = "form"  # our hosted page (or the preference centre)
    embed = "embed"  # a member's embedded form
    api = "api"  # the JSON API
    import_ = "import"  # an admin's CSV import (re-permission)
    admin = "admin"  # a Club admin acting for the person (the event names the admin)


class ConsentText(SQLModel, table=True):
    """The exact words a person was shown, in the language they were shown in; a change
    of words is a new version. Versions are numbered per scope across languages: each new
    wording of a scope, in any language, takes the scope's next number."""

    __tablename__ = "consent_text"
    __table_args__ = (UniqueConstraint("scope", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: ConsentScope = Field(sa_type=enum_type(ConsentScope))
    version: int
    language: str = Field(default="en", max_length=16, sa_column_kwargs={"server_default": "en"})
    body: str = Field(max_length=4000)
    digest: str = Field(max_length=64)  # sha256 of body, quoted in receipts
    created_at: datetime = Field(default_factory=utcnow)


class ConsentEvent(SQLModel, table=True):
    """One append-only entry of the ledger, inserted by the change it records.

    The sequencer (app.consent.log) later gives it its place in the Merkle log. Events
    recorded before the log existed also carry the old hash chain (`seq`, `prev_hash`,
    `hash`), kept for history; nothing new depends on it.
    """

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    seq: int | None = Field(default=None, unique=True)  # old chain position, 1, 2, 3...
    subscriber_key: str = Field(max_length=32, index=True)
    scope: ConsentScope = Field(sa_type=enum_type(ConsentScope))
    action: ConsentAction = Field(sa_type=enum_type(ConsentAction))
    topic_id: int | None = Field(default=None, foreign_key="topic.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    source: ConsentSource = Field(sa_type=enum_type(ConsentSource))
    consent_text_id: int | None = Field(default=None, foreign_key="consent_text.id")
    token_digest: str | None = Field(default=None, max_length=64)
    # The Club admin who made the change on the person's behalf (source "admin"). Not a
    # foreign key: the ledger is append-only and outlives accounts.
    actor_account_id: int | None = None
    occurred_at: datetime = Field(default_factory=utcnow, index=True)
    # The old chain (events before the Merkle log only); unique, so it never forked.
    prev_hash: str | None = Field(default=None, max_length=64, unique=True)
    hash: str | None = Field(default=None, max_length=64, unique=True)


class ConsentLogEntry(SQLModel, table=True):
    """An event's place in the Merkle log: leaf `log_index` is that event, for ever."""

    __tablename__ = "consent_log_entry"

    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    event_id: int = Field(foreign_key="consent_event.id", unique=True)
    integrated_at: datetime = Field(default_factory=utcnow)


class ConsentLogNode(SQLModel, table=True):
    """The hash of one complete subtree: leaves [position * 2**level, (position+1) * 2**level)."""

    __tablename__ = "consent_log_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    position: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: bytes = Field(sa_type=LargeBinary(32))


class ConsentCheckpoint(SQLModel, table=True):
    """A signed tree head (C2SP checkpoint); one per size the log has had, all kept."""

    __tablename__ = "consent_checkpoint"

    size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: bytes = Field(sa_type=LargeBinary(32))
    note: str = Field(max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)
    # Where the next integration run starts looking for unsequenced events.
    scan_from: datetime | None = None
