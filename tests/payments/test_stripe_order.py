"""Stripe events in any order and any number of times: a refund that arrives before the
success leaves the booking refunded; the same event delivered many times at once is
stored and applied once; a signed event whose data.object is not an object is a 400."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import BookingStatus
from app.payments.models import StripeEvent
from tests.marketplace.factories import make_slots
from tests.payments.test_stripe import (
    book_and_start_card_payment,
    booking_row,
    event_count,
    signed_post,
)

S = BookingStatus


def event(event_id: str, kind: str, obj: object) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def succeeded(intent_id: str, n: int = 1) -> dict:
    return event(
        f"evt_ok_{n}",
        "payment_intent.succeeded",
        {"id": intent_id, "object": "payment_intent", "amount": 25_000, "currency": "cad"},
    )


def refunded(intent_id: str) -> dict:
    return event(
        "evt_refund",
        "charge.refunded",
        {"id": "ch_1", "object": "charge", "payment_intent": intent_id, "refunded": True},
    )


def test_a_refund_before_the_success_leaves_the_booking_refunded(
    client,
    coop,
    stripe_on,
    smtp,
    run_jobs,
):
    _issue, slots = make_slots()
    booking_id, intent_id = book_and_start_card_payment(client, coop, slots[0].id)
    first = signed_post(stripe_on["app"], refunded(intent_id))
    assert first.status_code == 200 and first.json() == {"status": "booking refunded"}
    assert booking_row(booking_id).status == S.refunded
    late = signed_post(stripe_on["app"], succeeded(intent_id))
    assert late.status_code == 200
    assert booking_row(booking_id).status == S.refunded  # not paid
    assert booking_row(booking_id).paid_at is None
    with session_scope() as session:
        outcomes = [e.outcome for e in session.exec(select(StripeEvent).order_by(StripeEvent.id))]
    assert outcomes == [
        "booking refunded",
        "ignored: the refund arrived first, the booking stays refunded",
    ]
    run_jobs()
    [mail] = smtp.wait_for("owner@riverside.example.org")
    assert "is refunded" in mail.text()


@pytest.mark.postgres
def test_one_event_delivered_twenty_times_at_once_is_applied_once(
    client,
    coop,
    stripe_on,
    smtp,
    run_jobs,
):
    _issue, slots = make_slots()
    booking_id, intent_id = book_and_start_card_payment(client, coop, slots[0].id)
    same = succeeded(intent_id)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: signed_post(stripe_on["app"], same), range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["booking paid"] + ["duplicate"] * 19
    assert event_count() == 1 and booking_row(booking_id).status == S.paid
    run_jobs()
    assert len(smtp.wait_for("owner@riverside.example.org")) == 1


@pytest.mark.parametrize("obj", ["pi_123", [1, 2], None, 7])
def test_a_signed_event_whose_object_is_not_an_object_is_400(stripe_on, obj):
    answer = signed_post(stripe_on["app"], event("evt_odd", "payment_intent.succeeded", obj))
    assert answer.status_code == 400 and "data.object" in answer.json()["detail"]
    no_data = {k: v for k, v in event("evt_odd2", "charge.refunded", {}).items() if k != "data"}
    assert signed_post(stripe_on["app"], no_data).status_code == 400
    assert event_count() == 0
