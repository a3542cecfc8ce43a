"""A property of the booking state machine, through the real services: whatever
sequence of actions members and admins take, in any order, every status a booking
passes through is an edge of the transition table, a slot never has two live bookings,
and credits are never spent twice nor left unreturned by a refund."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.db import session_scope
from app.marketplace import service, states
from app.marketplace.models import Booking, BookingStatus, CreativeInput
from app.members.models import Member
from app.payments import credits
from app.payments.models import PaymentMethod
from tests.conftest import empty_tables
from tests.marketplace.factories import make_slots
from tests.members.factories import make_member

LIVE = {
    BookingStatus.held,
    BookingStatus.awaiting_payment,
    BookingStatus.paid,
    BookingStatus.creative_submitted,
    BookingStatus.approved,
    BookingStatus.placed,
    BookingStatus.sent,
}
PAID_AND_ALIVE = {
    BookingStatus.paid,
    BookingStatus.creative_submitted,
    BookingStatus.approved,
    BookingStatus.placed,
    BookingStatus.sent,
}
ACTIONS = [
    "book",
    "pay_invoice",
    "pay_credits",
    "mark_paid",
    "creative",
    "approve",
    "reject",
    "cancel",
]
REFUSED = (service.BookingError, states.IllegalTransition, credits.InsufficientCredits)


def _act(action: str, member_id: int, slot_id: int) -> None:
    with session_scope() as session:
        member = session.get(Member, member_id)
        booking = session.exec(
            select(Booking)
            .where(Booking.member_id == member_id, Booking.slot_id == slot_id)
            .order_by(Booking.id.desc())  # type: ignore[union-attr]
        ).first()
        if action == "book":
            service.book(session, member=member, slot_id=slot_id)
        elif booking is None:
            return
        elif action == "pay_invoice":
            service.pay(session, booking, method=PaymentMethod.invoice)
        elif action == "pay_credits":
            service.pay(session, booking, method=PaymentMethod.credits)
        elif action == "mark_paid":
            service.mark_invoice_paid(session, booking)
        elif action == "creative":
            service.submit_creative(
                session,
                booking,
                CreativeInput(
                    headline="Fresh bread",
                    body="Saturdays at Riverside.",
                    link="https://riverside.example.org/bread",
                ),
            )
        elif action == "approve":
            service.approve(session, booking)
        elif action == "reject":
            service.reject(session, booking, reason="Not this time.")
        elif action == "cancel":
            service.cancel(session, booking)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1)), min_size=1, max_size=14)
)
def test_no_sequence_of_actions_reaches_an_illegal_state(steps, worker):
    empty_tables()
    _issue, slots = make_slots("prop")
    members = [make_member(f"coop-{n}") for n in range(2)]
    start_balance = 100_000
    with session_scope() as session:
        for member in members:
            credits.add(session, member_id=member.id, amount=start_balance, reason="test")
    seen: dict[int, BookingStatus] = {}
    for action, who in steps:
        with contextlib.suppress(*REFUSED):  # refused actions are checked like the rest
            _act(action, members[who].id, slots[0].id)
        with session_scope() as session:
            bookings = session.exec(select(Booking)).all()
            for booking in bookings:
                before = seen.get(booking.id)
                if before is not None and before != booking.status:
                    assert booking.status in states.TRANSITIONS[before], (before, booking.status)
                elif before is None:
                    assert booking.status == BookingStatus.held
                seen[booking.id] = booking.status
            live = [b for b in bookings if b.status in LIVE and b.slot_id == slots[0].id]
            assert len(live) <= 1
            for member in members:
                # Credits are out exactly while a credit-paid booking is paid and alive;
                # a refund (reject, cancel) gives them straight back.
                spent = sum(
                    b.amount
                    for b in bookings
                    if b.member_id == member.id
                    and b.method == PaymentMethod.credits
                    and b.status in PAID_AND_ALIVE
                )
                assert credits.balance(session, member_id=member.id) == start_balance - spent
