"""Consent texts (versioned, never edited) and ConsentEvents (the append-only ledger).

A ConsentEvent names its subscriber only by `subscriber_key`, an opaque random value
that is not a foreign key and not personal data: erasing a person deletes their
Subscriber row (address, name) while every event, and so the hash chain, stays intact.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
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
    erased = "erased"
    # A suppression of the address was lifted by a confirmed double opt-in.
    lifted = "lifted"


class ConsentSource(StrEnum):
    form = "form"  # our hosted page (or the preference centre)
    embed = "embed"  # a member's embedded form
    api = "api"  # the JSON API
    import_ = "import"  # an admin's CSV import (re-permission)


class ConsentText(SQLModel, table=True):
    """The exact words a person was shown; a change of words is a new version."""

    __tablename__ = "consent_text"
    __table_args__ = (UniqueConstraint("scope", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: ConsentScope = Field(sa_type=enum_type(ConsentScope))
    version: int
    body: str = Field(max_length=4000)
    digest: str = Field(max_length=64)  # sha256 of body, quoted in receipts
    created_at: datetime = Field(default_factory=utcnow)


class ConsentEvent(SQLModel, table=True):
    """One append-only entry of the ledger; `hash` covers every field and `prev_hash`."""

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)  # position in the chain, 1, 2, 3...
    subscriber_key: str = Field(max_length=32, index=True)
    scope: ConsentScope = Field(sa_type=enum_type(ConsentScope))
    action: ConsentAction = Field(sa_type=enum_type(ConsentAction))
    topic_id: int | None = Field(default=None, foreign_key="topic.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    source: ConsentSource = Field(sa_type=enum_type(ConsentSource))
    consent_text_id: int | None = Field(default=None, foreign_key="consent_text.id")
    token_digest: str | None = Field(default=None, max_length=64)
    occurred_at: datetime = Field(default_factory=utcnow)
    # Unique: two appends that read the same head cannot both land (no fork).
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)
