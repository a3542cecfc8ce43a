"""Bookings: hold a slot, pay for it, submit the creative, approval, cancellation, refunds.

Every state change goes through `states.move`. A slot is held by at most one live
booking: the slot row is locked while booking, and a partial unique index on
booking(slot_id) for live states makes it a database fact across processes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.config import get_settings
from app.db import utcnow
from app.mailing.service import queue_transactional
from app.marketplace import states
from app.marketplace.inventory import is_free
from app.marketplace.models import (
    Booking,
    BookingStatus,
    Creative,
    CreativeInput,
    Slot,
    SlotStatus,
)
from app.members.models import Account, Member, Role
from app.newsletters.models import Issue, IssueStatus, Newsletter
from app.payments.models import PaymentMethod
from app.payments.providers import available_methods, provider_for

log = logging.getLogger(__name__)

HOLD = timedelta(minutes=15)
S = BookingStatus


class BookingError(Exception):
    """A problem the member can understand; `status` is the HTTP answer, `field` the input."""

    def __init__(self, message: str, *, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# Looking up ---------------------------------------------------------------------------------


def get_own(session: Session, *, member_id: int, booking_id: int) -> Booking:
    """A member's own booking; another member's id is answered as not found."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.member_id != member_id:
        raise BookingError("no such booking", status=404)
    return booking


def bookings_of(session: Session, *, member_id: int) -> Sequence[Booking]:
    return session.exec(
        select(Booking).where(Booking.member_id == member_id).order_by(col(Booking.id).desc())
    ).all()


def slot_of(session: Session, booking: Booking) -> Slot:
    slot = session.get(Slot, booking.slot_id)
    assert slot is not None
    return slot


def creative_of(session: Session, booking: Booking) -> Creative | None:
    return session.exec(select(Creative).where(Creative.booking_id == booking.id)).first()


def issue_of(session: Session, slot: Slot) -> Issue:
    issue = session.get(Issue, slot.issue_id)
    assert issue is not None
    return issue


# Booking and paying ---------------------------------------------------------------------


def book(session: Session, *, member: Member, slot_id: int) -> Booking:
    """Hold a free slot for `member` for 15 minutes. Exactly one of any number of
    simultaneous bookings of one slot wins; the others get BookingError(409)."""
    if not member.is_active:
        raise BookingError("only active member co-ops can book slots", status=403)
    slot = session.exec(select(Slot).where(Slot.id == slot_id).with_for_update()).first()
    if slot is None:
        raise BookingError("there is no such slot", status=404, field="slot_id")
    issue = issue_of(session, slot)
    if slot.status != SlotStatus.open or issue.status not in (
        IssueStatus.draft,
        IssueStatus.scheduled,
    ):
        raise BookingError("this slot is no longer offered", field="slot_id")
    if slot.creative_deadline <= utcnow():
        raise BookingError("this slot's creative deadline has passed", field="slot_id")
    if not is_free(session, slot):
        raise BookingError("this slot is already booked by another co-op", field="slot_id")
    now = utcnow()
    booking = Booking(
        slot_id=slot.id or 0,
        member_id=member.id or 0,
        amount=slot.price,
        currency=slot.currency,
        held_until=now + HOLD,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError:
        raise BookingError(
            "this slot was booked by another co-op a moment ago", field="slot_id"
        ) from None
    return booking


def pay(session: Session, booking: Booking, *, method: PaymentMethod) -> str | None:
    """Start paying a held booking; returns Stripe's client secret for card payments."""
    if method not in available_methods():
        raise BookingError(f"paying by {method.value} is not available here", status=422)
    if booking.status != S.held or booking.held_until <= utcnow():
        raise BookingError(
            "this booking is no longer waiting for a way to pay"
            + (
                " (the 15-minute hold ran out: book the slot again)"
                if booking.status == S.held
                else ""
            )
        )
    booking.method = method
    start = provider_for(method).start(session, booking)
    if start.paid:
        mark_paid(session, booking)
    else:
        states.move(booking, S.awaiting_payment)
        booking.payment_intent_id = start.intent_id
    return start.client_secret


def mark_paid(session: Session, booking: Booking) -> None:
    states.move(booking, S.paid)
    booking.paid_at = utcnow()
    slot = slot_of(session, booking)
    notify_member(
        session,
        booking,
        subject="Your slot is booked and paid",
        message=(
            f"Thank you: booking {booking.id} is paid "
            f"({format_money(booking.amount, booking.currency)}). "
            f"Submit the creative before {slot.creative_deadline:%Y-%m-%d %H:%M} UTC."
        ),
    )


def mark_invoice_paid(session: Session, booking: Booking) -> None:
    """An admin records that the invoice for this booking was paid."""
    if booking.method != PaymentMethod.invoice:
        raise BookingError("only invoiced bookings are marked paid by hand")
    mark_paid(session, booking)


# The creative ---------------------------------------------------------------------------


def check_creative(slot: Slot, data: CreativeInput) -> dict[str, str]:
    """Problems by field, for the slot's size limits (the input's own checks ran already)."""
    problems = {}
    for field in ("headline", "body"):
        limit = slot.limits[field]
        if len(getattr(data, field)) > limit:
            problems[field] = f"at most {limit} characters for a {slot.kind.value} slot"
    return problems


def submit_creative(session: Session, booking: Booking, data: CreativeInput) -> Creative:
    slot = slot_of(session, booking)
    if booking.status not in (S.paid, S.creative_submitted, S.approved):
        raise BookingError(
            "the creative can be submitted once the booking is paid; "
            f"it is {states.LABELS[booking.status]}"
        )
    if slot.creative_deadline <= utcnow():
        raise BookingError("the creative deadline has passed")
    problems = check_creative(slot, data)
    if problems:
        field, message = next(iter(problems.items()))
        raise BookingError(f"{field}: {message}", status=422, field=field)
    creative = creative_of(session, booking)
    if creative is None:
        creative = Creative(booking_id=booking.id or 0, **data.model_dump())
        session.add(creative)
    else:
        for key, value in data.model_dump().items():
            setattr(creative, key, value)
        creative.submitted_at, creative.approved_at = utcnow(), None
    if booking.status != S.creative_submitted:
        states.move(booking, S.creative_submitted)
    session.flush()
    return creative


# Approval, cancellation, refunds --------------------------------------------------------


def approve(session: Session, booking: Booking) -> None:
    states.move(booking, S.approved)
    creative = creative_of(session, booking)
    assert creative is not None
    creative.approved_at = utcnow()
    notify_member(
        session,
        booking,
        subject="Your creative is approved",
        message=f"“{creative.headline}” is approved and will appear in the issue.",
    )


def reject(session: Session, booking: Booking, *, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise BookingError(
            "say why the creative is rejected: the member reads it", status=422, field="reason"
        )
    states.move(booking, S.rejected)
    booking.rejection_reason = reason[:500]
    notify_member(
        session,
        booking,
        subject="Your creative was not approved",
        message=f"Booking {booking.id} was rejected: {booking.rejection_reason} "
        "The payment is refunded the way it was made.",
    )
    refund(session, booking)


def cancel(session: Session, booking: Booking, *, reason: str = "Cancelled.") -> None:
    """Release the slot; a paid booking is refunded the way it was paid."""
    was_paid = booking.paid_at is not None
    states.move(booking, S.cancelled)
    if was_paid:
        notify_member(
            session,
            booking,
            subject="Your booking is cancelled",
            message=f"Booking {booking.id} is cancelled: {reason} The payment is refunded.",
        )
        refund(session, booking)


def refund(session: Session, booking: Booking) -> None:
    """Refund a rejected or cancelled paid booking through its payment method."""
    if booking.paid_at is None or booking.method is None:
        return
    result = provider_for(booking.method).refund(session, booking)
    booking.refund_reference = result.reference
    if result.done:
        mark_refunded(session, booking, instructions=result.instructions)


def mark_refunded(session: Session, booking: Booking, *, instructions: str = "") -> None:
    states.move(booking, S.refunded)
    notify_member(
        session,
        booking,
        subject="Your booking is refunded",
        message=f"Booking {booking.id} is refunded "
        f"({format_money(booking.amount, booking.currency)}). {instructions}",
    )


# The sweep's work -----------------------------------------------------------------------


def expire_holds(session: Session) -> int:
    stale = session.exec(
        select(Booking).where(
            col(Booking.status).in_([S.held, S.awaiting_payment]),
            col(Booking.held_until) <= utcnow(),
        )
    ).all()
    for booking in stale:
        states.move(booking, S.expired)
    return len(stale)


def release_missed_deadlines(session: Session) -> int:
    """Paid bookings with no approved creative at the deadline are released and refunded."""
    missed = session.exec(
        select(Booking)
        .join(Slot, col(Slot.id) == col(Booking.slot_id))
        .where(
            col(Booking.status).in_([S.paid, S.creative_submitted]),
            col(Slot.creative_deadline) <= utcnow(),
        )
    ).all()
    released = 0
    for booking in missed:
        try:
            with session.begin_nested():
                cancel(
                    session,
                    booking,
                    reason="the creative deadline passed without an approved creative.",
                )
            released += 1
        except Exception:
            log.exception("could not release booking %s; retrying on the next sweep", booking.id)
    return released


def mark_sent(session: Session) -> int:
    """Placed bookings whose issue has gone out are sent."""
    placed = session.exec(
        select(Booking)
        .join(Slot, col(Slot.id) == col(Booking.slot_id))
        .join(Issue, col(Issue.id) == col(Slot.issue_id))
        .where(Booking.status == S.placed, Issue.status == IssueStatus.sent)
    ).all()
    for booking in placed:
        states.move(booking, S.sent)
    return len(placed)


# Mail -------------------------------------------------------------------------------------


def format_money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


def member_recipients(session: Session, member_id: int) -> list[str]:
    return list(
        session.exec(
            select(Account.email).where(
                Account.member_id == member_id,
                col(Account.active),
                col(Account.role).in_([Role.owner, Role.staff]),
            )
        ).all()
    )


def notify_member(session: Session, booking: Booking, *, subject: str, message: str) -> None:
    slot = slot_of(session, booking)
    issue = issue_of(session, slot)
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    for email in member_recipients(session, booking.member_id):
        queue_transactional(
            session,
            kind="booking",
            to=email,
            subject=subject,
            template="booking_update",
            message=message,
            issue_label=f"{newsletter.name} #{issue.number}: {issue.subject}",
            booking_url=f"{get_settings().base_url}/member/bookings/{booking.id}",
        )


def cancel_unpaid_or_paid(session: Session, booking: Booking, *, by_member: bool) -> None:
    """A member may cancel only before paying; admins may cancel any live booking."""
    if by_member and booking.status not in (S.held, S.awaiting_payment):
        raise BookingError("a paid booking is cancelled by a Club admin: ask the Club")
    cancel(session, booking, reason="Cancelled by " + ("your co-op." if by_member else "the Club."))
