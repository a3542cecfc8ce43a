"""A property of the booking state machine, through the real services and the real
webhook entry point: whatever sequence of member, admin, sweep and Stripe steps happens,
in any order (a refund event before the success, a success after a cancel or an expiry,
the same event twice), every status a booking passes through is an edge of the
transition table, a slot never has two live bookings, a booking is spent from credits
at most once and refunded at most once, and the balance is exactly what the live
credit-paid bookings took."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.config import get_settings
from app.db import session_scope, utcnow
from app.marketplace import service, states
from app.marketplace.models import Booking, BookingStatus, CreativeInput
from app.members.models import Member
from app.payments import credits, stripe_gateway, webhooks
from app.payments.models import CreditEntry, PaymentMethod
from tests.conftest import empty_tables
from tests.marketplace.factories import make_slots
from tests.members.factories import make_member
from tests.payments.conftest import SECRET_KEY, running_localstripe

S = BookingStatus
LIVE = {S.held, S.awaiting_payment, S.paid, S.creative_submitted, S.approved, S.placed, S.sent}
PAID_AND_ALIVE = {S.paid, S.creative_submitted, S.approved, S.placed, S.sent}
ACTIONS = [
    "book",
    "pay_invoice",
    "pay_credits",
    "pay_card",
    "mark_paid",
    "creative",
    "approve",
    "reject",
    "cancel",
    "expire",
    "stripe_succeeded",
    "stripe_refunded",
    "stripe_failed",
    "stripe_again",  # the last event delivered once more
]
REFUSED = (
    service.BookingError,
    states.IllegalTransition,
    credits.InsufficientCredits,
    stripe_gateway.StripeUnavailable,
)


@pytest.fixture(scope="module")
def card_payments():
    """Stripe pointed at a localstripe of this module's own, for the card steps."""
    with running_localstripe() as base:
        yield base


class Run:
    """What one example did to Stripe: the events it delivered, by number."""

    def __init__(self, stripe_base: str) -> None:
        self.stripe_base = stripe_base
        self.events: list[dict] = []

    def charge_card(self, intent_id: str) -> None:
        """The card holder pays on Stripe's side (so a later refund is real)."""
        auth = {"Authorization": f"Bearer {SECRET_KEY}"}
        with httpx.Client(base_url=self.stripe_base, headers=auth) as http:
            method = http.post(
                "/v1/payment_methods",
                data={
                    "type": "card",
                    "card[number]": "4242424242424242",
                    "card[exp_month]": "12",
                    "card[exp_year]": "2030",
                    "card[cvc]": "123",
                },
            ).json()
            http.post(f"/v1/payment_intents/{intent_id}", data={"payment_method": method["id"]})
            http.post(f"/v1/payment_intents/{intent_id}/confirm")

    def event(self, kind: str, booking: Booking) -> dict:
        obj: dict = {"id": booking.payment_intent_id, "amount": booking.amount, "currency": "cad"}
        if kind == "charge.refunded":
            obj = {"id": "ch_x", "payment_intent": booking.payment_intent_id, "refunded": True}
        event = {"id": f"evt_{len(self.events)}", "type": kind, "data": {"object": obj}}
        self.events.append(event)
        return event


def _act(run: Run, action: str, member_id: int, slot_id: int) -> None:
    with session_scope() as session:
        member = session.get(Member, member_id)
        booking = session.exec(
            select(Booking)
            .where(Booking.member_id == member_id, Booking.slot_id == slot_id)
            .order_by(Booking.id.desc())  # type: ignore[union-attr]
        ).first()
        if action == "book":
            service.book(session, member=member, slot_id=slot_id)
        elif action == "stripe_again":
            if run.events:
                webhooks.store_and_handle(session, run.events[-1])
        elif booking is None:
            return
        elif action.startswith("pay_"):
            method = {"invoice": "invoice", "credits": "credits", "card": "stripe"}[action[4:]]
            service.pay(session, booking, method=PaymentMethod(method))
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
        elif action == "expire":
            booking.held_until = utcnow() - timedelta(seconds=1)
            service.expire(session, booking)
        elif booking.payment_intent_id:
            kind = {
                "stripe_succeeded": "payment_intent.succeeded",
                "stripe_refunded": "charge.refunded",
                "stripe_failed": "payment_intent.payment_failed",
            }[action]
            if kind == "payment_intent.succeeded":
                run.charge_card(booking.payment_intent_id)
            before = booking.status
            outcome = webhooks.store_and_handle(session, run.event(kind, booking))
            if kind == "charge.refunded" and before == S.awaiting_payment:
                # the refund arrived before the success: the booking is over, not paid
                assert booking.status == S.refunded, outcome


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1)), min_size=1, max_size=16)
)
def test_no_sequence_of_actions_reaches_an_illegal_state(steps, worker, card_payments, monkeypatch):
    config = get_settings()
    monkeypatch.setattr(config, "stripe_secret_key", SECRET_KEY)
    monkeypatch.setattr(config, "stripe_api_base", card_payments)
    empty_tables()
    run = Run(card_payments)
    _issue, slots = make_slots("prop")
    members = [make_member(f"coop-{n}") for n in range(2)]
    start_balance = 100_000
    with session_scope() as session:
        for member in members:
            credits.add(session, member_id=member.id, amount=start_balance, reason="test")
    seen: dict[int, BookingStatus] = {}
    for action, who in steps:
        with contextlib.suppress(*REFUSED):  # refused actions are checked like the rest
            _act(run, action, members[who].id, slots[0].id)
        with session_scope() as session:
            bookings = session.exec(select(Booking)).all()
            for booking in bookings:
                before = seen.get(booking.id)
                if before is not None and before != booking.status:
                    assert booking.status in states.TRANSITIONS[before], (before, booking.status)
                elif before is None:
                    assert booking.status == BookingStatus.held
                seen[booking.id] = booking.status
                amounts = session.exec(
                    select(CreditEntry.amount).where(CreditEntry.booking_id == booking.id)
                ).all()
                assert sum(a < 0 for a in amounts) <= 1 and sum(a > 0 for a in amounts) <= 1
            live = [b for b in bookings if b.status in LIVE and b.slot_id == slots[0].id]
            assert len(live) <= 1
            for member in members:
                # Credits are out exactly while a credit-paid booking is paid and alive;
                # a refund (reject, cancel, deadline) gives them straight back.
                spent = sum(
                    b.amount
                    for b in bookings
                    if b.member_id == member.id
                    and b.method == PaymentMethod.credits
                    and b.status in PAID_AND_ALIVE
                )
                assert credits.balance(session, member_id=member.id) == start_balance - spent
