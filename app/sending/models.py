"""Delivery: one issue sent to one subscriber, the send ledger (unique per pair)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow


class DeliveryStatus(StrEnum):
    queued = "queued"  # assembled, waiting for its batch
    sending = "sending"  # claimed by a worker; stale claims go back to queued
    sent = "sent"  # the SMTP server accepted it
    failed = "failed"  # refused for good (5xx): counted as a hard bounce
    bounced = "bounced"  # accepted, then a bounce report came back
    complained = "complained"  # the person reported it as spam (ARF)
    skipped = "skipped"  # no longer eligible when its batch ran (unsubscribed, erased)
    cancelled = "cancelled"  # the issue was cancelled before it went


class Delivery(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("issue_id", "subscriber_id"),
        sa.Index("ix_delivery_issue_id_batch", "issue_id", "batch"),
        sa.Index("ix_delivery_issue_id_status", "issue_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    # Erasure removes the person; the row stays (without them) for the issue's counts.
    subscriber_id: int | None = Field(
        default=None, foreign_key="subscriber.id", ondelete="SET NULL"
    )
    batch: int
    status: DeliveryStatus = Field(default=DeliveryStatus.queued, sa_type=enum_type(DeliveryStatus))
    attempts: int = 0
    error: str | None = Field(default=None, max_length=300)
    claimed_at: datetime | None = None
    # Who holds the claim: marks and lease renewals apply only with this token, so a
    # batch that lost its claim (its lease ran out) can change nothing.
    claim_token: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BounceReport(SQLModel, table=True):
    """A bounce (RFC 3464) or complaint (RFC 5965) as received, and what we made of it."""

    __tablename__ = "bounce_report"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # hard, soft, complaint, unparsed
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", ondelete="SET NULL")
    # A bounce of a confirmation or login mail (VERP `bounces+t<id>-…`).
    transactional_id: int | None = Field(
        default=None, foreign_key="transactional_email.id", ondelete="SET NULL"
    )
    status_code: str | None = Field(default=None, max_length=20)
    detail: str | None = Field(default=None, max_length=500)
    raw: str | None = None  # kept only for unparsed reports, for a person to read; purged
    received_at: datetime = Field(default_factory=utcnow)
