"""The booking state machine: every legal move in one table; anything else is refused."""

from __future__ import annotations

from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.marketplace.models import Booking, BookingStatus, SlotKind, SlotStatus
from app.payments.models import PaymentMethod

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

# What a person reads for each state, kind and way to pay, in the language of the page
# (the stored values stay the codes the API answers with).
LABELS = {
    S.held: lazy_gettext("held for you"),
    S.awaiting_payment: lazy_gettext("awaiting payment"),
    S.paid: lazy_gettext("paid: waiting for the creative"),
    S.creative_submitted: lazy_gettext("creative waiting for approval"),
    S.approved: lazy_gettext("approved"),
    S.rejected: lazy_gettext("rejected"),
    S.placed: lazy_gettext("placed in the issue"),
    S.sent: lazy_gettext("sent"),
    S.refunded: lazy_gettext("refunded"),
    S.expired: lazy_gettext("expired"),
    S.cancelled: lazy_gettext("cancelled"),
}

KIND_NAMES = {
    SlotKind.sponsor: lazy_gettext("Sponsor"),
    SlotKind.classified: lazy_gettext("Classified"),
}

SLOT_STATUS_NAMES = {
    SlotStatus.open: lazy_gettext("open"),
    SlotStatus.withdrawn: lazy_gettext("withdrawn"),
}

METHOD_NAMES = {
    PaymentMethod.stripe: lazy_gettext("card"),
    PaymentMethod.invoice: lazy_gettext("invoice"),
    PaymentMethod.credits: lazy_gettext("credits"),
}

# Upcoming issues are drafts or scheduled (see inventory.UPCOMING).
ISSUE_STATUS_NAMES = {"draft": lazy_gettext("draft"), "scheduled": lazy_gettext("scheduled")}

# The names a marketplace page needs, for `render(..., **NAMES)`.
NAMES = {
    "labels": LABELS,
    "kind_names": KIND_NAMES,
    "slot_status_names": SLOT_STATUS_NAMES,
    "method_names": METHOD_NAMES,
    "issue_status_names": ISSUE_STATUS_NAMES,
}


class IllegalTransition(Exception):
    """The booking's state does not allow this step (HTTP 409)."""


def can_move(booking: Booking, to: BookingStatus) -> bool:
    return to in TRANSITIONS[booking.status]


def move(booking: Booking, to: BookingStatus) -> None:
    if not can_move(booking, to):
        raise IllegalTransition(
            _(
                "this booking is %(state)s; it cannot become %(target)s",
                state=LABELS[booking.status],
                target=LABELS[to],
            )
        )
    booking.status = to
    booking.updated_at = utcnow()
