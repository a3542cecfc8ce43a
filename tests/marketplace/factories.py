"""Plain functions that put slots and bookings in place through the services."""

from __future__ import annotations

from datetime import timedelta

from app.db import session_scope, utcnow
from app.marketplace import inventory, service
from app.marketplace.models import Booking, BookingStatus, CreativeInput, Slot
from app.members.models import Member
from app.newsletters import service as newsletters
from app.newsletters.models import Issue
from app.payments.models import PaymentMethod
from tests.newsletters.factories import make_issue, make_newsletter, make_topic

CREATIVE = {
    "headline": "Fresh bread at Riverside",
    "body": "Our bakery opens on *Saturday*. Members get a loaf free.",
    "link": "https://riverside.example.org/bakery",
}


def make_slots(slug: str = "commons", *, schedule: bool = True) -> tuple[Issue, list[Slot]]:
    """An issue (scheduled in an hour unless told) with its layout's slots."""
    topic = make_topic(f"{slug}-topic")
    newsletter = make_newsletter(slug, topics=[topic])
    issue = make_issue(newsletter)
    with session_scope() as session:
        issue = session.get(Issue, issue.id)
        if schedule:
            newsletters.schedule(
                session, issue, send_at=utcnow() + timedelta(days=3), timezone="UTC"
            )
        slots = inventory.ensure_slots(session, issue)
    return issue, slots


def make_booking(
    member: Member, slot: Slot, *, upto: BookingStatus = BookingStatus.held
) -> Booking:
    """A booking moved through the ordinary path up to `upto` (paid by invoice)."""
    order = [
        BookingStatus.held,
        BookingStatus.awaiting_payment,
        BookingStatus.paid,
        BookingStatus.creative_submitted,
        BookingStatus.approved,
    ]
    with session_scope() as session:
        member = session.get(Member, member.id)
        booking = service.book(session, member=member, slot_id=slot.id)
        steps = order[1 : order.index(upto) + 1] if upto in order else []
        for step in steps:
            if step == BookingStatus.awaiting_payment:
                service.pay(session, booking, method=PaymentMethod.invoice)
            elif step == BookingStatus.paid:
                service.mark_invoice_paid(session, booking)
            elif step == BookingStatus.creative_submitted:
                service.submit_creative(session, booking, CreativeInput(**CREATIVE))
            elif step == BookingStatus.approved:
                service.approve(session, booking)
    return booking
