"""A recruit (one person a member brought to the Club, once per person ever) and the
rate admins set. A recruit's credits wait out a holding period before they reach the
member's credit ledger (app.payments.credits)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow


class RecruitStatus(StrEnum):
    pending = "pending"  # confirmed; credits wait for the holding period to end
    granted = "granted"  # the holding period ended; the credits are in the ledger
    cancelled = "cancelled"  # erased, bounced hard or complained during the hold
    over_cap = "over-cap"  # over the member's daily cap or its cap for the address's domain


class RecruitCredit(SQLModel, table=True):
    """One recruited person, keyed by the address HMAC, which outlives erasure (as the
    Suppression does), so a person who comes back never earns anyone credits again.
    The recipient domain is kept only as an HMAC too: enough to count, not to read."""

    __tablename__ = "recruit_credit"
    __table_args__ = (
        sa.Index("ix_recruit_credit_status_matures_at", "status", "matures_at"),
        sa.Index("ix_recruit_credit_member_id_confirmed_at", "member_id", "confirmed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    address_hmac: str = Field(max_length=64, unique=True)
    domain_hmac: str | None = Field(default=None, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    amount: int
    status: RecruitStatus = Field(default=RecruitStatus.pending, sa_type=enum_type(RecruitStatus))
    confirmed_at: datetime = Field(default_factory=utcnow)
    matures_at: datetime
    granted_at: datetime | None = None
    credit_entry_id: int | None = Field(default=None, foreign_key="credit_entry.id", unique=True)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = Field(default=None, max_length=40)


class RecruitingRate(SQLModel, table=True):
    """The credits a confirmed recruit earns, as set by admins; the latest row holds."""

    __tablename__ = "recruiting_rate"

    id: int | None = Field(default=None, primary_key=True)
    amount: int = Field(ge=0)
    set_by: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
