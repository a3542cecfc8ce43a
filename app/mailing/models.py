"""Transactional mail (confirmations, login links): stored, then delivered by a job."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import LargeBinary
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow


class TransactionalStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class TransactionalEmail(SQLModel, table=True):
    __tablename__ = "transactional_email"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=300)
    html: str
    text: str
    # The finished message, when it was built at queueing (a test copy of an issue).
    raw: bytes | None = Field(default=None, sa_type=LargeBinary)
    status: TransactionalStatus = Field(
        default=TransactionalStatus.queued, sa_type=enum_type(TransactionalStatus), index=True
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    # When the next try is due (backoff after a failure); the sweep sends what is due.
    next_attempt_at: datetime | None = None
    claimed_at: datetime | None = None
    claim_token: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = None


class MailPause(SQLModel, table=True):
    """Transactional delivery paused because the mail server could not be reached;
    the sweep probes the server and lifts it (deletes the row) once it answers."""

    __tablename__ = "mail_pause"

    channel: str = Field(primary_key=True, max_length=20)
    reason: str = Field(max_length=300)
    since: datetime = Field(default_factory=utcnow)
