"""The booking state machine's one entry point for payment events (app.payments.events).

Events are applied to the booking locked, whatever order they arrive in: a refund that
arrives before the success leaves the booking refunded (the later success changes
nothing), a success after the hold ran out is paid back, and anything the state machine
cannot take is told to the Club's admins instead of being dropped silently."""

from __future__ import annotations

from babel.support import LazyProxy
from sqlmodel import Session, select

from app.i18n import lazy_gettext
from app.marketplace import service, states
from app.marketplace.models import Booking, BookingStatus
from app.marketplace.notices import format_money, notify_member
from app.members.service import alert_admins
from app.payments.events import PaymentEvent, PaymentEventKind, on_payment_event
from app.payments.models import PaymentMethod
from app.payments.providers import provider_for

S = BookingStatus
K = PaymentEventKind


@on_payment_event
def apply(session: Session, event: PaymentEvent) -> str:
    """Apply one payment event to its booking; returns what happened, in words."""
    found = session.exec(
        select(Booking).where(Booking.payment_intent_id == event.intent_id)
    ).first()
    if found is None:
        return "no booking has this payment intent"
    booking = service.locked(session, found)
    if event.kind == K.failed:
        if booking.status == S.awaiting_payment:
            notify_member(
                session,
                booking,
                subject=lazy_gettext("Your card payment did not go through"),
                message=lazy_gettext(
                    "The card payment for booking %(id)s failed. You can try again with "
                    "another card while the slot is held.",
                    id=booking.id,
                ),
            )
        return "payment failed"
    if event.kind == K.partly_refunded:
        _alert(session, booking, "was partly refunded in Stripe", "Check it in Stripe.")
        return "partly refunded: left for an admin"
    if event.kind == K.refunded:
        return _refunded(session, booking)
    return _succeeded(session, booking, event)


def _refunded(session: Session, booking: Booking) -> str:
    if booking.status == S.refunded:
        return "already refunded"
    if states.can_move(booking, S.refunded):
        # Also before the success arrived: the money is back, so the booking is over.
        service.mark_refunded(
            session, booking, instructions=lazy_gettext("Stripe returns it to the card.")
        )
        return "booking refunded"
    if booking.paid_at is None:
        # A late payment we paid back (expired booking): remember that it is done.
        booking.refund_reference = booking.refund_reference or "refunded in Stripe"
        return f"refund recorded: booking is {booking.status.value}"
    _alert(
        session,
        booking,
        f"was refunded in Stripe while it is {states.LABELS[booking.status]}",
        "The booking stays as it is; cancel it if it should not run.",
    )
    return f"refund noted: booking is {booking.status.value}, admins alerted"


def _succeeded(session: Session, booking: Booking, event: PaymentEvent) -> str:
    if event.amount != booking.amount or event.currency != booking.currency.upper():
        _alert(
            session,
            booking,
            f"was paid {event.amount} {event.currency} in Stripe but costs "
            f"{booking.amount} {booking.currency}",
            "The booking was left unpaid; check the payment in Stripe and refund or "
            "correct it by hand.",
            subject=lazy_gettext("Payment amount mismatch on booking %(id)s", id=booking.id),
        )
        return "amount mismatch: booking left unpaid, admins alerted"
    if booking.status == S.awaiting_payment:
        service.mark_paid(session, booking)
        return "booking paid"
    if booking.status == S.refunded and booking.paid_at is None:
        return "ignored: the refund arrived first, the booking stays refunded"
    if booking.status in (S.expired, S.cancelled) and booking.paid_at is None:
        if booking.refund_reference:
            return "ignored: this late payment is already paid back"
        # Paid after the hold ran out: the slot may be someone else's now, so give it back.
        result = provider_for(PaymentMethod.stripe).refund(session, booking)
        booking.refund_reference = result.reference
        _alert(
            session,
            booking,
            f"was paid after its hold ended ({booking.status.value})",
            f"The payment of {format_money(booking.amount, booking.currency)} was refunded "
            f"({result.reference}).",
            subject=lazy_gettext("Late payment refunded on booking %(id)s", id=booking.id),
        )
        return "late payment refunded"
    return f"ignored: booking is {booking.status.value}"


def _alert(
    session: Session, booking: Booking, what: str, then: str, *, subject: str | LazyProxy = ""
) -> None:
    alert_admins(
        session,
        subject=subject
        or lazy_gettext("Stripe payment of booking %(id)s needs a look", id=booking.id),
        message=f"Booking {booking.id} {what}. {then}",
    )
