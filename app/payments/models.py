"""The credit ledger (append-only) and the Stripe events we have received (once each)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import utcnow


class PaymentMethod(StrEnum):
    stripe = "stripe"  # a card through Stripe PaymentIntents, confirmed by webhook
    invoice = "invoice"  # an admin marks it paid when the money arrives
    credits = "credits"  # taken from the member's credit balance at once


# A booking is paid from credits at most once and refunded at most once: the database
# refuses a second spend (negative entry) or a second refund (positive entry) of a booking.
_SPEND_SQL = sa.text("booking_id IS NOT NULL AND amount < 0")
_REFUND_SQL = sa.text("booking_id IS NOT NULL AND amount > 0")


class CreditEntry(SQLModel, table=True):
    """One line of a member's credit ledger. Never updated or deleted: the balance is the
    sum of the entries, and a correction is a new entry with its reason."""

    __tablename__ = "credit_entry"
    __table_args__ = (
        sa.Index(
            "uq_credit_entry_booking_spend",
            "booking_id",
            unique=True,
            postgresql_where=_SPEND_SQL,
            sqlite_where=_SPEND_SQL,
        ),
        sa.Index(
            "uq_credit_entry_booking_refund",
            "booking_id",
            unique=True,
            postgresql_where=_REFUND_SQL,
            sqlite_where=_REFUND_SQL,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    amount: int  # credits: positive when earned or refunded, negative when spent
    reason: str = Field(max_length=300)
    booking_id: int | None = Field(default=None, foreign_key="booking.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class StripeEvent(SQLModel, table=True):
    """A Stripe webhook event, stored by its id in the same transaction as its effect, so a
    replayed or duplicated delivery changes nothing."""

    __tablename__ = "stripe_event"
    __table_args__ = (sa.UniqueConstraint("event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=100)
    object_id: str | None = Field(default=None, max_length=255)
    outcome: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow)


class PaymentMethodChoice(SQLModel):
    method: PaymentMethod
