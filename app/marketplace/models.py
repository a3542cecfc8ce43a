"""Slots (sellable placements in an issue), Bookings of them, their Creatives, and the
aggregate click counters behind /r/{token}."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow
from app.i18n import gettext as _
from app.payments.models import PaymentMethod


class SlotKind(StrEnum):
    sponsor = "sponsor"
    classified = "classified"


class SlotStatus(StrEnum):
    open = "open"  # offered (free unless a live booking holds it)
    withdrawn = "withdrawn"  # taken off sale by an admin


# What a creative may hold, per kind of slot.
SIZE_LIMITS: dict[SlotKind, dict[str, int]] = {
    SlotKind.sponsor: {"headline": 80, "body": 600},
    SlotKind.classified: {"headline": 60, "body": 280},
}


class Slot(SQLModel, table=True):
    """A placement in an issue: the issue's sponsor/classified block at `position`."""

    __table_args__ = (sa.UniqueConstraint("issue_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True, ondelete="CASCADE")
    position: int
    kind: SlotKind = Field(sa_type=enum_type(SlotKind))
    price: int = Field(ge=0)  # minor units of `currency`
    currency: str = Field(max_length=3)
    creative_deadline: datetime
    status: SlotStatus = Field(default=SlotStatus.open, sa_type=enum_type(SlotStatus))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def limits(self) -> dict[str, int]:
        return SIZE_LIMITS[self.kind]


class BookingStatus(StrEnum):
    held = "held"  # claimed, waiting for the member to choose how to pay (15 minutes)
    awaiting_payment = "awaiting_payment"  # a card payment or an invoice is under way
    paid = "paid"
    creative_submitted = "creative_submitted"
    approved = "approved"
    rejected = "rejected"  # an admin refused the creative; a refund follows
    placed = "placed"  # rendered into the issue as it started sending
    sent = "sent"
    refunded = "refunded"
    expired = "expired"  # the hold ran out before payment
    cancelled = "cancelled"


# A slot is taken while one of its bookings is in one of these states. The partial unique
# index below makes "one live booking per slot" a database fact, so concurrent bookings on
# any number of web processes cannot both win.
LIVE_STATUSES = (
    BookingStatus.held,
    BookingStatus.awaiting_payment,
    BookingStatus.paid,
    BookingStatus.creative_submitted,
    BookingStatus.approved,
    BookingStatus.placed,
    BookingStatus.sent,
)
_LIVE_SQL = sa.text("status IN ({})".format(", ".join(f"'{s.value}'" for s in LIVE_STATUSES)))


class Booking(SQLModel, table=True):
    __table_args__ = (
        sa.Index(
            "uq_booking_live_slot",
            "slot_id",
            unique=True,
            postgresql_where=_LIVE_SQL,
            sqlite_where=_LIVE_SQL,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slot_id: int = Field(foreign_key="slot.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    status: BookingStatus = Field(
        default=BookingStatus.held, sa_type=enum_type(BookingStatus), index=True
    )
    amount: int  # minor units, the slot's price when booked
    currency: str = Field(max_length=3)
    held_until: datetime
    method: PaymentMethod | None = Field(default=None, sa_type=enum_type(PaymentMethod))
    payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    refund_reference: str | None = Field(default=None, max_length=255)
    paid_at: datetime | None = None
    rejection_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Creative(SQLModel, table=True):
    """The content of a booking; edited in place until the deadline (editing an approved
    creative sends it back for approval)."""

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id", unique=True)
    headline: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    link: str = Field(max_length=1000)
    image_url: str | None = Field(default=None, max_length=1000)
    submitted_at: datetime = Field(default_factory=utcnow)
    approved_at: datetime | None = None


class ClickCount(SQLModel, table=True):
    """Clicks on one creative's link in one issue, in aggregate: no person is recorded."""

    __tablename__ = "click_count"
    __table_args__ = (sa.UniqueConstraint("creative_id", "issue_id"),)

    id: int | None = Field(default=None, primary_key=True)
    creative_id: int = Field(foreign_key="creative.id", ondelete="CASCADE")
    issue_id: int = Field(foreign_key="issue.id", ondelete="CASCADE")
    clicks: int = 0


# API shapes -----------------------------------------------------------------------------


# Characters no address or headline needs, and that could end an HTML attribute or a
# line of a header: quotes, angle brackets, backslashes, whitespace inside a URL, and
# every control character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NOT_IN_URL = re.compile(r"[\s\"'<>\\`^{|}]")


def strict_https_url(value: str) -> str:
    """A full https:// address, parsed and written back in its canonical form, or
    ValueError. Quotes, spaces, angle brackets and control characters are refused, not
    escaped: an address that needs them is not one we pass on to readers."""
    value = value.strip()
    if _CONTROL.search(value) or _NOT_IN_URL.search(value):
        raise ValueError(_("an address cannot hold spaces, quotes, < > or control characters"))
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError(_("use a full https:// address"))
    host = (
        parts.hostname.encode("idna").decode("ascii")
        if not parts.hostname.isascii()
        else parts.hostname
    )
    netloc = host.lower() + (f":{parts.port}" if parts.port else "")
    return urlunsplit(("https", netloc, parts.path or "/", parts.query, parts.fragment))


def plain_text(value: str) -> str:
    """One line of plain text: control characters refused, runs of spaces made one."""
    if _CONTROL.search(value.replace("\t", " ")):
        raise ValueError(_("use plain text on one line (no line breaks or control characters)"))
    return " ".join(value.split())


class CreativeInput(SQLModel):
    headline: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=2000)
    link: str = Field(max_length=1000)
    image_url: str | None = Field(default=None, max_length=1000)

    @field_validator("headline", "body", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("headline")
    @classmethod
    def _plain_headline(cls, value: str) -> str:
        return plain_text(value)

    @field_validator("body")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if _CONTROL.search(value.replace("\n", "").replace("\r", "").replace("\t", "")):
            raise ValueError(_("the text holds control characters; type it again as plain text"))
        return value

    @field_validator("link")
    @classmethod
    def _https_link(cls, value: str) -> str:
        try:
            return strict_https_url(value)
        except ValueError as exc:
            raise ValueError(_("the link: %(problem)s", problem=exc)) from None

    @field_validator("image_url", mode="before")
    @classmethod
    def _https_image(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(_("the image must be a full https:// address"))
        try:
            return strict_https_url(value)
        except ValueError as exc:
            raise ValueError(_("the image: %(problem)s", problem=exc)) from None


class BookingCreate(SQLModel):
    slot_id: int = Field(ge=1, le=2**31 - 1)  # a 32-bit id in the database


class SlotPublic(SQLModel):
    id: int
    kind: SlotKind
    position: int
    price: int
    currency: str
    creative_deadline: datetime
    free: bool
    headline_max: int
    body_max: int


class IssueInventory(SQLModel):
    issue_id: int
    newsletter: str
    number: int
    subject: str
    scheduled_at: datetime | None
    topics: list[str]
    audience: int
    slots: list[SlotPublic]


class CreativePublic(SQLModel):
    headline: str
    body: str
    link: str
    image_url: str | None
    approved: bool


class BookingPublic(SQLModel):
    id: int
    slot_id: int
    issue_id: int
    status: BookingStatus
    amount: int
    currency: str
    held_until: datetime
    method: PaymentMethod | None
    rejection_reason: str | None
    creative_deadline: datetime
    creative: CreativePublic | None = None
    client_secret: str | None = None
