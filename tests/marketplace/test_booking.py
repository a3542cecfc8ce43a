"""Inventory, booking, holds, invoice and credit payments, creatives and the state machine."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from app.db import session_scope, utcnow
from app.jobs import run_sweeps
from app.marketplace import service, states
from app.marketplace.models import Booking, BookingStatus, Slot, SlotStatus
from app.members.models import Member, Role
from app.payments import credits
from app.payments.models import CreditEntry
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_key, make_member, post_form

S = BookingStatus


@pytest.fixture
def coop():
    member = make_member("riverside")
    owner = make_account("owner@riverside.example.org", member=member)
    _key_id, secret = make_key(member)
    return {"member": member, "owner": owner, "auth": {"Authorization": f"Bearer {secret}"}}


@pytest.fixture
def admin():
    return make_account("admin@club.example.org", role=Role.admin)


def booking_row(booking_id: int) -> Booking:
    with session_scope() as session:
        return session.get(Booking, booking_id)


def pay(client, coop, booking_id: int, method: str):
    return client.post(
        f"/api/v1/bookings/{booking_id}/payment", json={"method": method}, headers=coop["auth"]
    )


def give_credits(member, amount: int) -> None:
    with session_scope() as session:
        credits.add(session, member_id=member.id, amount=amount, reason="Recruited subscribers")


def test_inventory_lists_upcoming_issues_with_free_slots_and_prices(client, coop):
    issue, slots = make_slots()
    response = client.get("/api/v1/slots", headers=coop["auth"])
    assert response.status_code == 200
    [entry] = response.json()
    assert entry["issue_id"] == issue.id and entry["audience"] == 0
    assert entry["topics"] == ["Commons Topic"]
    kinds = [s["kind"] for s in entry["slots"]]
    assert kinds == ["sponsor", "classified", "classified"]
    assert entry["slots"][0]["price"] == 25_000 and entry["slots"][0]["currency"] == "CAD"
    assert all(s["free"] for s in entry["slots"])

    make_booking(coop["member"], slots[0])
    entry = client.get("/api/v1/slots", headers=coop["auth"]).json()[0]
    assert [s["free"] for s in entry["slots"]] == [False, True, True]


def test_a_booked_slot_answers_409_and_an_unknown_slot_404(client, coop):
    _issue, slots = make_slots()
    first = client.post("/api/v1/bookings", json={"slot_id": slots[0].id}, headers=coop["auth"])
    assert first.status_code == 201 and first.json()["status"] == "held"
    other = make_member("northwind")
    _k, secret = make_key(other)
    second = client.post(
        "/api/v1/bookings",
        json={"slot_id": slots[0].id},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert second.status_code == 409
    assert "already booked" in second.json()["detail"]
    missing = client.post("/api/v1/bookings", json={"slot_id": 99_999}, headers=coop["auth"])
    assert missing.status_code == 404


def test_a_withdrawn_or_past_slot_cannot_be_booked(client, coop):
    _issue, slots = make_slots()
    with session_scope() as session:
        session.get(Slot, slots[0].id).status = SlotStatus.withdrawn
        session.get(Slot, slots[1].id).creative_deadline = utcnow() - timedelta(minutes=1)
    for slot in slots[:2]:
        response = client.post("/api/v1/bookings", json={"slot_id": slot.id}, headers=coop["auth"])
        assert response.status_code == 409, response.text
    with session_scope() as session:
        assert session.exec(select(Booking)).all() == []


@pytest.mark.postgres
@pytest.mark.parametrize("contenders", [50, 100])
def test_simultaneous_bookings_of_one_slot_give_exactly_one_hold(contenders):
    _issue, slots = make_slots()
    members = [make_member(f"coop-{n}") for n in range(contenders)]
    barrier = threading.Barrier(contenders)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt(member):
        barrier.wait()
        try:
            with session_scope() as session:
                own = session.get(Member, member.id)
                service.book(session, member=own, slot_id=slots[0].id)
            result = "held"
        except service.BookingError as exc:
            result = exc.status
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(m,)) for m in members]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("held") == 1
    assert outcomes.count(409) == contenders - 1
    with session_scope() as session:
        rows = session.exec(select(Booking).where(Booking.slot_id == slots[0].id)).all()
    assert [r.status for r in rows] == [S.held]


def test_an_expired_hold_releases_the_slot(client, coop):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    with session_scope() as session:
        session.get(Booking, booking.id).held_until = utcnow() - timedelta(seconds=1)
    assert run_sweeps()["marketplace"] == "ok"
    assert booking_row(booking.id).status == S.expired
    again = client.post("/api/v1/bookings", json={"slot_id": slots[0].id}, headers=coop["auth"])
    assert again.status_code == 201
    late = client.post(
        f"/api/v1/bookings/{booking.id}/payment", json={"method": "invoice"}, headers=coop["auth"]
    )
    assert late.status_code == 409


def test_the_invoice_path_waits_for_an_admin(client, coop, admin, smtp, run_jobs):
    _issue, slots = make_slots()
    booking = client.post(
        "/api/v1/bookings", json={"slot_id": slots[0].id}, headers=coop["auth"]
    ).json()
    paid = client.post(
        f"/api/v1/bookings/{booking['id']}/payment",
        json={"method": "invoice"},
        headers=coop["auth"],
    )
    assert paid.status_code == 200 and paid.json()["status"] == "awaiting_payment"

    log_in(client, admin)
    page = client.get("/admin/marketplace")
    assert f"/admin/marketplace/bookings/{booking['id']}/mark-paid" in page.text
    done = post_form(client, f"/admin/marketplace/bookings/{booking['id']}/mark-paid")
    assert done.status_code == 200
    assert booking_row(booking["id"]).status == S.paid
    run_jobs()
    [mail] = smtp.wait_for("owner@riverside.example.org")
    assert "paid" in mail.text() and "250.00 CAD" in mail.text()


def test_the_credit_path_spends_and_refunds_through_the_ledger(client, coop, admin, smtp, run_jobs):
    _issue, slots = make_slots()
    give_credits(coop["member"], 10_000)
    booking = client.post(
        "/api/v1/bookings", json={"slot_id": slots[0].id}, headers=coop["auth"]
    ).json()
    short = client.post(
        f"/api/v1/bookings/{booking['id']}/payment",
        json={"method": "credits"},
        headers=coop["auth"],
    )
    assert short.status_code == 402
    assert "25,000 credits" in short.json()["detail"] and "10,000" in short.json()["detail"]
    assert booking_row(booking["id"]).status == S.held

    give_credits(coop["member"], 20_000)
    paid = client.post(
        f"/api/v1/bookings/{booking['id']}/payment",
        json={"method": "credits"},
        headers=coop["auth"],
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert client.get("/api/v1/credits", headers=coop["auth"]).json() == {"balance": 5_000}

    creative = client.put(
        f"/api/v1/bookings/{booking['id']}/creative", json=CREATIVE, headers=coop["auth"]
    )
    assert creative.status_code == 200 and creative.json()["status"] == "creative_submitted"

    log_in(client, admin)
    rejected = post_form(
        client,
        f"/admin/marketplace/bookings/{booking['id']}/reject",
        {"reason": "Please name the co-op in the headline."},
    )
    assert rejected.status_code == 200
    assert booking_row(booking["id"]).status == S.refunded
    assert client.get("/api/v1/credits", headers=coop["auth"]).json() == {"balance": 30_000}
    with session_scope() as session:
        amounts = [e.amount for e in session.exec(select(CreditEntry).order_by(CreditEntry.id))]
    assert amounts == [10_000, 20_000, -25_000, 25_000]  # appended, never edited
    run_jobs()
    texts = [m.text() for m in smtp.wait_for("owner@riverside.example.org", count=3)]
    assert any("Please name the co-op in the headline." in t for t in texts)
    assert any("refunded" in t for t in texts)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"link": "http://riverside.example.org/"}, "link"),
        ({"headline": "x" * 81}, "headline"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
    ],
)
def test_a_bad_creative_is_422_naming_the_field(client, coop, change, field):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0], upto=S.paid)
    response = client.put(
        f"/api/v1/bookings/{booking.id}/creative", json={**CREATIVE, **change}, headers=coop["auth"]
    )
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["detail"]] == [field]
    assert booking_row(booking.id).status == S.paid


def test_a_creative_after_the_deadline_is_refused(client, coop):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[1], upto=S.paid)
    with session_scope() as session:
        session.get(Slot, slots[1].id).creative_deadline = utcnow() - timedelta(seconds=1)
    response = client.put(
        f"/api/v1/bookings/{booking.id}/creative", json=CREATIVE, headers=coop["auth"]
    )
    assert response.status_code == 409 and "deadline" in response.json()["detail"]


def test_a_paid_booking_without_approval_at_the_deadline_is_released_and_refunded(coop):
    _issue, slots = make_slots()
    give_credits(coop["member"], 25_000)
    with session_scope() as session:
        member = session.get(Member, coop["member"].id)
        booking = service.book(session, member=member, slot_id=slots[0].id)
        service.pay(session, booking, method=credits_method())
    with session_scope() as session:
        session.get(Slot, slots[0].id).creative_deadline = utcnow() - timedelta(seconds=1)
    assert run_sweeps()["marketplace"] == "ok"
    assert booking_row(booking.id).status == S.refunded
    with session_scope() as session:
        assert credits.balance(session, member_id=coop["member"].id) == 25_000


def credits_method():
    from app.payments.models import PaymentMethod

    return PaymentMethod.credits


# The state machine ---------------------------------------------------------------------------

PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("start", "to"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_every_transition_is_legal_or_refused(start, to):
    booking = Booking(slot_id=1, member_id=1, amount=1, currency="CAD", held_until=utcnow())
    booking.status = start
    if to in states.TRANSITIONS[start]:
        states.move(booking, to)
        assert booking.status == to
    else:
        with pytest.raises(states.IllegalTransition):
            states.move(booking, to)
        assert booking.status == start


def test_an_illegal_step_over_http_is_409_and_changes_nothing(client, coop, admin):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    log_in(client, admin)
    response = post_form(client, f"/admin/marketplace/bookings/{booking.id}/approve")
    assert response.status_code == 409
    assert booking_row(booking.id).status == S.held
    paid_by_member = client.put(
        f"/api/v1/bookings/{booking.id}/creative", json=CREATIVE, headers=coop["auth"]
    )
    assert paid_by_member.status_code == 409
