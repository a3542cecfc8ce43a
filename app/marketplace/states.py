"""The booking state machine: every legal move in one table; anything else is refused."""

from __future__ import annotations

from app.db import utcnow
from app.marketplace.models import Booking, BookingStatus

S = BookingStatus

TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    S.held: frozenset({S.awaiting_payment, S.paid, S.expired, S.cancelled}),
    # refunded straight from here: Stripe's refund event arrived before its success event
    S.awaiting_payment: frozenset({S.paid, S.expired, S.cancelled, S.refunded}),
    S.paid: frozenset({S.creative_submitted, S.cancelled, S.refunded}),
    # refunded straight from here: the deadline passed with no approved creative
    S.creative_submitted: frozenset({S.approved, S.rejected, S.cancelled, S.refunded}),
    # editing an approved creative sends it back for approval
    S.approved: frozenset({S.creative_submitted, S.placed, S.cancelled}),
    S.rejected: frozenset({S.refunded}),
    S.placed: frozenset({S.sent}),
    S.cancelled: frozenset({S.refunded}),
    S.sent: frozenset(),
    S.refunded: frozenset(),
    S.expired: frozenset(),
}

LABELS = {
    S.held: "held for you",
    S.awaiting_payment: "awaiting payment",
    S.paid: "paid: waiting for the creative",
    S.creative_submitted: "creative waiting for approval",
    S.approved: "approved",
    S.rejected: "rejected",
    S.placed: "placed in the issue",
    S.sent: "sent",
    S.refunded: "refunded",
    S.expired: "expired",
    S.cancelled: "cancelled",
}


class IllegalTransition(Exception):
    """The booking's state does not allow this step (HTTP 409)."""


def can_move(booking: Booking, to: BookingStatus) -> bool:
    return to in TRANSITIONS[booking.status]


def move(booking: Booking, to: BookingStatus) -> None:
    if not can_move(booking, to):
        target = to.value.replace("_", " ")
        raise IllegalTransition(
            f"this booking is {LABELS[booking.status]}; it cannot become {target}"
        )
    booking.status = to
    booking.updated_at = utcnow()
