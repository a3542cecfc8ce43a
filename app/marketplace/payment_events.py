"""What a verified Stripe event does to a booking: the bridge between payments and the
marketplace. The webhook route stores the event (once, by id) and calls `handle` in
the same transaction, so an event is either stored with its effect or not at all."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, select

from app.marketplace import service, states
from app.marketplace.models import Booking, BookingStatus
from app.members.service import alert_admins
from app.payments import stripe_gateway

log = logging.getLogger(__name__)
S = BookingStatus


def _booking_for_intent(session: Session, intent_id: object) -> Booking | None:
    if not isinstance(intent_id, str) or not intent_id:
        return None
    return session.exec(select(Booking).where(Booking.payment_intent_id == intent_id)).first()


def handle(session: Session, event: dict[str, Any]) -> str:
    """Apply one event; returns what happened, in words, for the event row."""
    kind = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        booking = _booking_for_intent(session, obj.get("id"))
        if booking is None:
            return "no booking has this payment intent"
        if kind == "payment_intent.payment_failed":
            if booking.status == S.awaiting_payment:
                service.notify_member(
                    session,
                    booking,
                    subject="Your card payment did not go through",
                    message=f"The card payment for booking {booking.id} failed. You can try "
                    "again with another card while the slot is held.",
                )
            return "payment failed"
        return _succeeded(session, booking, obj)
    if kind == "charge.refunded":
        booking = _booking_for_intent(session, obj.get("payment_intent"))
        if booking is None:
            return "no booking has this charge's payment intent"
        if not obj.get("refunded"):
            return "partly refunded: left for an admin"
        if booking.status == S.refunded:
            return "already refunded"
        if states.can_move(booking, S.refunded):
            service.mark_refunded(session, booking, instructions="Stripe returns it to the card.")
            return "booking refunded"
        return f"ignored: booking is {booking.status.value}"
    return "ignored: not an event we act on"


def _succeeded(session: Session, booking: Booking, intent: dict[str, Any]) -> str:
    amount, currency = intent.get("amount"), str(intent.get("currency") or "")
    if amount != booking.amount or currency.upper() != booking.currency.upper():
        alert_admins(
            session,
            subject=f"Payment amount mismatch on booking {booking.id}",
            message=(
                f"Stripe reports {amount} {currency.upper()} paid for booking {booking.id}, "
                f"which costs {booking.amount} {booking.currency}. The booking was left unpaid; "
                "check the payment in Stripe and refund or correct it by hand."
            ),
        )
        return "amount mismatch: booking left unpaid, admins alerted"
    if booking.status == S.awaiting_payment:
        service.mark_paid(session, booking)
        return "booking paid"
    if booking.status in (S.expired, S.cancelled) and booking.paid_at is None:
        # Paid after the hold ran out: the slot may be someone else's now, so give it back.
        refund_id, _ = stripe_gateway.refund(booking_id=booking.id or 0, intent_id=intent["id"])
        booking.refund_reference = refund_id
        alert_admins(
            session,
            subject=f"Late payment refunded on booking {booking.id}",
            message=f"Booking {booking.id} was paid after its hold ended ({booking.status.value}); "
            f"the payment was refunded ({refund_id}).",
        )
        return "late payment refunded"
    return f"ignored: booking is {booking.status.value}"
