"""Bookings: hold a slot, pay for it, submit the creative, approval, cancellation, refunds.

Every state change goes through `states.move`, on a booking row this transaction has
locked (`locked`, SELECT … FOR UPDATE) before it looked at the booking's state: two
simultaneous requests for one booking are served one after the other, and the second
sees what the first did. A slot is held by at most one live booking (the slot row is
locked while booking, and a partial unique index on booking(slot_id) for live states
makes it a database fact); the credit ledger's partial unique indexes make a second
spend or a second refund of one booking impossible.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from babel.support import LazyProxy
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.marketplace import states
from app.marketplace.inventory import is_free
from app.marketplace.models import (
    LIVE_STATUSES,
    Booking,
    BookingStatus,
    Creative,
    CreativeInput,
    Slot,
    SlotKind,
    SlotStatus,
)
from app.marketplace.notices import format_money, notify_member
from app.members.models import Member
from app.newsletters.models import Issue, IssueStatus
from app.payments.models import PaymentMethod
from app.payments.providers import available_methods, provider_for

HOLD = timedelta(minutes=15)
S = BookingStatus


# Why a booking is cancelled, when the caller gives no reason (the member reads it).
_CANCELLED = lazy_gettext("Cancelled.")


class BookingError(Exception):
    """A problem the member can understand; `status` is the HTTP answer, `field` the input."""

    def __init__(self, message: str, *, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# Looking up ---------------------------------------------------------------------------------


def locked(session: Session, booking: Booking) -> Booking:
    """The booking re-read under a row lock held until the transaction ends. Every change
    of a booking starts here, so its state checks see the last committed move."""
    return session.exec(
        select(Booking)
        .where(Booking.id == booking.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def get_own(session: Session, *, member_id: int, booking_id: int) -> Booking:
    """A member's own booking; another member's id is answered as not found."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.member_id != member_id:
        raise BookingError(_("no such booking"), status=404)
    return booking


def bookings_of(session: Session, *, member_id: int) -> Sequence[Booking]:
    return session.exec(
        select(Booking).where(Booking.member_id == member_id).order_by(col(Booking.id).desc())
    ).all()


def bookings_in(
    session: Session, statuses: Sequence[BookingStatus], method: PaymentMethod | None = None
) -> Sequence[Booking]:
    """Every member's bookings in these states (oldest first), for the admin's lists."""
    query = select(Booking).where(col(Booking.status).in_(statuses)).order_by(col(Booking.id))
    if method is not None:
        query = query.where(Booking.method == method)
    return session.exec(query).all()


def live_bookings_of(session: Session, slot_ids: Sequence[int]) -> dict[int, Booking]:
    """The live booking of each of these slots that has one, by slot id."""
    bookings = session.exec(
        select(Booking).where(
            col(Booking.slot_id).in_(slot_ids), col(Booking.status).in_(LIVE_STATUSES)
        )
    ).all()
    return {b.slot_id: b for b in bookings}


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
        raise BookingError(_("only active member co-ops can book slots"), status=403)
    slot = session.exec(select(Slot).where(Slot.id == slot_id).with_for_update()).first()
    if slot is None:
        raise BookingError(_("there is no such slot"), status=404, field="slot_id")
    issue = issue_of(session, slot)
    if slot.status != SlotStatus.open or issue.status not in (
        IssueStatus.draft,
        IssueStatus.scheduled,
    ):
        raise BookingError(_("this slot is no longer offered"), field="slot_id")
    if slot.creative_deadline <= utcnow():
        raise BookingError(_("this slot's creative deadline has passed"), field="slot_id")
    if not is_free(session, slot):
        raise BookingError(_("this slot is already booked by another co-op"), field="slot_id")
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
            _("this slot was booked by another co-op a moment ago"), field="slot_id"
        ) from None
    return booking


def pay(session: Session, booking: Booking, *, method: PaymentMethod) -> str | None:
    """Choose how to pay a held booking, once; returns Stripe's client secret for cards.

    Credits are spent at once. An invoice stays open until the creative deadline (the
    member writes the creative meanwhile). A card payment waits for Stripe's webhook."""
    if method not in available_methods():
        raise BookingError(
            _("paying by %(method)s is not available here", method=states.METHOD_NAMES[method]),
            status=422,
        )
    booking = locked(session, booking)
    if booking.status != S.held or booking.held_until <= utcnow():
        raise BookingError(
            _(
                "this booking is no longer waiting for a way to pay"
                " (the 15-minute hold ran out: book the slot again)"
            )
            if booking.status == S.held
            else _("this booking is no longer waiting for a way to pay")
        )
    booking.method = method
    start = provider_for(method).start(session, booking)
    if start.paid:
        mark_paid(session, booking)
        return None
    states.move(booking, S.awaiting_payment)
    booking.payment_intent_id = start.intent_id
    if method == PaymentMethod.invoice:
        booking.held_until = slot_of(session, booking).creative_deadline
    return start.client_secret


def invoice_open(booking: Booking) -> bool:
    return booking.status == S.awaiting_payment and booking.method == PaymentMethod.invoice


def mark_paid(session: Session, booking: Booking) -> None:
    """The money arrived. A creative written while the invoice was open goes to approval."""
    booking = locked(session, booking)
    states.move(booking, S.paid)
    booking.paid_at = utcnow()
    slot = slot_of(session, booking)
    waiting = creative_of(session, booking) is not None
    if waiting:
        states.move(booking, S.creative_submitted)
    notify_member(
        session,
        booking,
        subject=lazy_gettext("Your slot is booked and paid"),
        message=lazy_gettext(
            "Thank you: booking %(id)s is paid (%(amount)s). "
            "Your creative now goes to a Club admin for approval.",
            id=booking.id,
            amount=format_money(booking.amount, booking.currency),
        )
        if waiting
        else lazy_gettext(
            "Thank you: booking %(id)s is paid (%(amount)s). "
            "Submit the creative before %(deadline)s UTC.",
            id=booking.id,
            amount=format_money(booking.amount, booking.currency),
            deadline=slot.creative_deadline.strftime("%Y-%m-%d %H:%M"),
        ),
    )


def mark_invoice_paid(session: Session, booking: Booking) -> None:
    """An admin records that the invoice for this booking was paid."""
    booking = locked(session, booking)
    if booking.method != PaymentMethod.invoice:
        raise BookingError(_("only invoiced bookings are marked paid by hand"))
    mark_paid(session, booking)


# The creative ---------------------------------------------------------------------------


def check_creative(slot: Slot, data: CreativeInput) -> dict[str, str]:
    """Problems by field, for the slot's size limits (the input's own checks ran already)."""
    problems = {}
    for field in ("headline", "body"):
        limit = slot.limits[field]
        if len(getattr(data, field)) > limit:
            problems[field] = (
                _("at most %(limit)s characters for a sponsor slot", limit=limit)
                if slot.kind == SlotKind.sponsor
                else _("at most %(limit)s characters for a classified slot", limit=limit)
            )
    return problems


def can_write_creative(booking: Booking) -> bool:
    """Paid, or paying by an invoice that is still open."""
    return booking.status in (S.paid, S.creative_submitted, S.approved) or invoice_open(booking)


def submit_creative(session: Session, booking: Booking, data: CreativeInput) -> Creative:
    """Store the creative; a paid booking's creative goes to approval (an invoiced one's
    once the invoice is paid)."""
    booking = locked(session, booking)
    slot = slot_of(session, booking)
    if not can_write_creative(booking):
        raise BookingError(
            _(
                "the creative can be submitted once the booking is paid or invoiced;"
                " it is %(state)s",
                state=states.LABELS[booking.status],
            )
        )
    if slot.creative_deadline <= utcnow():
        raise BookingError(_("the creative deadline has passed"))
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
    if booking.status in (S.paid, S.approved):
        states.move(booking, S.creative_submitted)
    session.flush()
    return creative


# Approval, cancellation, refunds --------------------------------------------------------


def approve(session: Session, booking: Booking) -> None:
    booking = locked(session, booking)
    states.move(booking, S.approved)
    creative = creative_of(session, booking)
    assert creative is not None
    creative.approved_at = utcnow()
    notify_member(
        session,
        booking,
        subject=lazy_gettext("Your creative is approved"),
        message=lazy_gettext(
            "“%(headline)s” is approved and will appear in the issue.", headline=creative.headline
        ),
    )


def reject(session: Session, booking: Booking, *, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise BookingError(
            _("say why the creative is rejected: the member reads it"),
            status=422,
            field="reason",
        )
    booking = locked(session, booking)
    states.move(booking, S.rejected)
    booking.rejection_reason = reason[:500]
    notify_member(
        session,
        booking,
        subject=lazy_gettext("Your creative was not approved"),
        message=lazy_gettext(
            "Booking %(id)s was rejected: %(reason)s The payment is refunded the way it was made.",
            id=booking.id,
            reason=booking.rejection_reason,
        ),
    )
    refund(session, booking)


def cancel(session: Session, booking: Booking, *, reason: str | LazyProxy = _CANCELLED) -> None:
    """Cancel any live booking, release its slot, and refund a paid booking the way it was
    paid (credits back at once, invoices by the Club, cards through Stripe); the member is
    told. The one way a booking is cancelled: members, admins, the deadline sweep and the
    issue editor all call this. A second call is refused (IllegalTransition)."""
    booking = locked(session, booking)
    was_paid = booking.paid_at is not None
    states.move(booking, S.cancelled)
    if was_paid:
        notify_member(
            session,
            booking,
            subject=lazy_gettext("Your booking is cancelled"),
            message=lazy_gettext(
                "Booking %(id)s is cancelled: %(reason)s The payment is refunded.",
                id=booking.id,
                reason=reason,
            ),
        )
        refund(session, booking)
    elif booking.method == PaymentMethod.invoice:
        notify_member(
            session,
            booking,
            subject=lazy_gettext("Your booking is cancelled"),
            message=lazy_gettext(
                "Booking %(id)s is cancelled: %(reason)s The invoice is void.",
                id=booking.id,
                reason=reason,
            ),
        )


def refund(session: Session, booking: Booking) -> None:
    """Refund a rejected or cancelled paid booking (locked by the caller) through its
    payment method."""
    if booking.paid_at is None or booking.method is None:
        return
    result = provider_for(booking.method).refund(session, booking)
    booking.refund_reference = result.reference
    if result.done:
        mark_refunded(session, booking, instructions=result.instructions)


def mark_refunded(
    session: Session, booking: Booking, *, instructions: str | LazyProxy = ""
) -> None:
    booking = locked(session, booking)
    states.move(booking, S.refunded)
    notify_member(
        session,
        booking,
        subject=lazy_gettext("Your booking is refunded"),
        message=lazy_gettext(
            "Booking %(id)s is refunded (%(amount)s). %(instructions)s",
            id=booking.id,
            amount=format_money(booking.amount, booking.currency),
            instructions=instructions,
        ),
    )


def expire(session: Session, booking: Booking) -> bool:
    """An unpaid booking whose hold (or open invoice) ran out releases its slot."""
    booking = locked(session, booking)
    if booking.status not in (S.held, S.awaiting_payment) or booking.held_until > utcnow():
        return False
    states.move(booking, S.expired)
    if booking.method == PaymentMethod.invoice:
        notify_member(
            session,
            booking,
            subject=lazy_gettext("Your booking has expired"),
            message=lazy_gettext(
                "The invoice for booking %(id)s was not paid before the creative deadline, "
                "so the slot is released and the invoice is void.",
                id=booking.id,
            ),
        )
    return True


def cancel_unpaid_or_paid(session: Session, booking: Booking, *, by_member: bool) -> None:
    """A member may cancel only before paying; admins may cancel any live booking."""
    booking = locked(session, booking)
    if by_member and booking.status not in (S.held, S.awaiting_payment):
        raise BookingError(_("a paid booking is cancelled by a Club admin: ask the Club"))
    cancel(
        session,
        booking,
        reason=lazy_gettext("Cancelled by your co-op.")
        if by_member
        else lazy_gettext("Cancelled by the Club."),
    )
