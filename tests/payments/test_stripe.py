"""Card payments against localstripe: the signed webhook marks a booking paid; refunds,
duplicates, unsigned or stale webhooks, and amount mismatches."""

from __future__ import annotations

import json
import time

import httpx
import stripe
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import Booking, BookingStatus
from app.members.models import Role
from app.payments.models import StripeEvent
from tests.marketplace.factories import CREATIVE, make_slots
from tests.members.factories import log_in, make_account, post_form
from tests.payments.conftest import SECRET_KEY, WEBHOOK_SECRET

S = BookingStatus


def stripe_api(base: str, path: str, data: dict | None = None) -> dict:
    """What Stripe.js and the card holder do on Stripe's side."""
    response = httpx.post(
        f"{base}{path}", data=data or {}, headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    response.raise_for_status()
    return response.json()


def stripe_get(base: str, path: str) -> dict:
    response = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {SECRET_KEY}"})
    response.raise_for_status()
    return response.json()


def pay_with_card(base: str, intent_id: str, number: str = "4242424242424242") -> None:
    method = stripe_api(
        base,
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2030",
            "card[cvc]": "123",
        },
    )
    stripe_api(base, f"/v1/payment_intents/{intent_id}", {"payment_method": method["id"]})
    stripe_api(base, f"/v1/payment_intents/{intent_id}/confirm")


def booking_row(booking_id: int) -> Booking:
    with session_scope() as session:
        return session.get(Booking, booking_id)


def wait_for(predicate, what: str, timeout: float = 20.0):
    """localstripe sends its webhooks a second after the event, from its own loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def signed_post(app: str, event: dict, *, secret: str = WEBHOOK_SECRET, timestamp=None):
    payload = json.dumps(event)
    ts = int(timestamp if timestamp is not None else time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{ts}.{payload}", secret)
    return httpx.post(
        f"{app}/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": f"t={ts},v1={signature}", "Content-Type": "application/json"},
    )


def event_count() -> int:
    with session_scope() as session:
        return len(session.exec(select(StripeEvent)).all())


def book_and_start_card_payment(client, coop, slot_id: int) -> tuple[int, str]:
    booking = client.post("/api/v1/bookings", json={"slot_id": slot_id}, headers=coop["auth"])
    assert booking.status_code == 201
    booking_id = booking.json()["id"]
    started = client.post(
        f"/api/v1/bookings/{booking_id}/payment", json={"method": "stripe"}, headers=coop["auth"]
    )
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["status"] == "awaiting_payment" and body["client_secret"].startswith("pi_")
    return booking_id, booking_row(booking_id).payment_intent_id


def test_the_full_card_path_paid_rejected_and_refunded(client, coop, stripe_on, smtp, run_jobs):
    _issue, slots = make_slots()
    admin = make_account("admin@club.example.org", role=Role.admin)
    booking_id, intent_id = book_and_start_card_payment(client, coop, slots[0].id)
    intent = stripe_get(stripe_on["api"], f"/v1/payment_intents/{intent_id}")
    assert (intent["amount"], intent["currency"]) == (25_000, "cad")
    assert intent["metadata"] == {"booking_id": str(booking_id)}

    pay_with_card(stripe_on["api"], intent_id)
    wait_for(lambda: booking_row(booking_id).status == S.paid, "the signed webhook")
    with session_scope() as session:
        [event] = session.exec(select(StripeEvent)).all()
    assert (event.type, event.outcome) == ("payment_intent.succeeded", "booking paid")

    put = client.put(f"/api/v1/bookings/{booking_id}/creative", json=CREATIVE, headers=coop["auth"])
    assert put.status_code == 200
    log_in(client, admin)
    rejected = post_form(
        client, f"/admin/marketplace/bookings/{booking_id}/reject", {"reason": "Off topic."}
    )
    assert rejected.status_code == 200
    row = booking_row(booking_id)
    assert row.status == S.rejected and row.refund_reference.startswith("re_")
    latest = stripe_get(stripe_on["api"], f"/v1/payment_intents/{intent_id}")["latest_charge"]
    charge = (
        latest
        if isinstance(latest, dict)
        else stripe_get(stripe_on["api"], f"/v1/charges/{latest}")
    )
    assert charge["refunded"] is True

    # localstripe does not emit charge.refunded; Stripe does. Deliver the event Stripe would
    # send for this (really refunded) charge, signed with the webhook secret.
    event = {
        "id": "evt_refund_1",
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {"object": charge},
    }
    assert signed_post(stripe_on["app"], event).status_code == 200
    assert booking_row(booking_id).status == S.refunded
    run_jobs()
    texts = [m.text() for m in smtp.wait_for("owner@riverside.example.org", count=3)]
    assert any("Off topic." in t for t in texts) and any("is refunded" in t for t in texts)

    # The same event again changes nothing.
    before = event_count()
    again = signed_post(stripe_on["app"], event)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert event_count() == before and booking_row(booking_id).status == S.refunded


def test_unsigned_wrongly_signed_or_stale_webhooks_are_400_and_change_nothing(
    client, coop, stripe_on
):
    _issue, slots = make_slots()
    booking_id, intent_id = book_and_start_card_payment(client, coop, slots[0].id)
    event = {
        "id": "evt_forged",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": intent_id, "amount": 25_000, "currency": "cad"}},
    }
    unsigned = httpx.post(f"{stripe_on['app']}/webhooks/stripe", json=event)
    wrong = signed_post(stripe_on["app"], event, secret="whsec_someone_else")
    stale = signed_post(stripe_on["app"], event, timestamp=time.time() - 600)
    assert [r.status_code for r in (unsigned, wrong, stale)] == [400, 400, 400]
    assert event_count() == 0
    assert booking_row(booking_id).status == S.awaiting_payment


def test_an_amount_mismatch_leaves_the_booking_unpaid_and_alerts_admins(
    client, coop, stripe_on, smtp, run_jobs
):
    _issue, slots = make_slots()
    make_account("admin@club.example.org", role=Role.admin)
    booking_id, intent_id = book_and_start_card_payment(client, coop, slots[0].id)
    # Someone changes the intent's amount on Stripe's side before paying it.
    stripe_api(stripe_on["api"], f"/v1/payment_intents/{intent_id}", {"amount": "100"})
    pay_with_card(stripe_on["api"], intent_id)
    wait_for(event_count, "the webhook")
    assert booking_row(booking_id).status == S.awaiting_payment
    run_jobs()
    [alert] = smtp.wait_for("admin@club.example.org")
    assert "mismatch" in alert.message["Subject"].lower()
    assert "100 CAD" in alert.text() and "25000 CAD" in alert.text()
