"""Money under real concurrency: many simultaneous HTTP requests against a real server on
PostgreSQL move a booking's money exactly once. Whatever mix of pays and cancels arrives
together, there is at most one spend and one refund per booking, never a refund without
a spend, and the balance the API reports is the sum of the ledger and matches where the
booking ended."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import Booking, BookingStatus
from app.members.models import Role
from app.payments import credits
from app.payments.models import CreditEntry
from tests.marketplace.factories import make_booking, make_slots
from tests.members.factories import csrf_for_logged_in, log_in, make_account, make_key, make_member

pytestmark = pytest.mark.postgres

S = BookingStatus
AT_ONCE = 20
PRICE = 25_000  # the sponsor slot's price in make_slots
START = 100_000


@pytest.fixture
def coop():
    member = make_member("riverside")
    make_account("owner@riverside.example.org", member=member)
    _key_id, secret = make_key(member)
    with session_scope() as session:
        credits.add(session, member_id=member.id, amount=START, reason="Recruited subscribers")
    return {"member": member, "auth": {"Authorization": f"Bearer {secret}"}}


@pytest.fixture
def admin_browser(live_app):
    """An admin logged in on the live server: (cookies, CSRF token) to share between requests."""
    admin = make_account("admin@club.example.org", role=Role.admin)
    with httpx.Client(base_url=live_app, timeout=60) as browser:
        log_in(browser, admin)
        return dict(browser.cookies), csrf_for_logged_in(browser)


def at_once(calls: list) -> list[int]:
    """Run every call in its own thread, all together; their HTTP status codes."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def pay(live_app: str, coop: dict, booking_id: int, method: str):
    def call() -> int:
        with httpx.Client(base_url=live_app, timeout=60) as http:
            return http.post(
                f"/api/v1/bookings/{booking_id}/payment",
                json={"method": method},
                headers=coop["auth"],
            ).status_code

    return call


def member_cancel(live_app: str, coop: dict, booking_id: int):
    def call() -> int:
        with httpx.Client(base_url=live_app, timeout=60) as http:
            return http.post(
                f"/api/v1/bookings/{booking_id}/cancel", headers=coop["auth"]
            ).status_code

    return call


def admin_cancel(live_app: str, admin_browser: tuple, booking_id: int):
    cookies, token = admin_browser

    def call() -> int:
        with httpx.Client(base_url=live_app, timeout=60, cookies=cookies) as http:
            return http.post(
                f"/admin/marketplace/bookings/{booking_id}/cancel",
                data={"csrf_token": token},
                follow_redirects=False,
            ).status_code

    return call


def ledger(member_id: int, booking_id: int) -> tuple[list[int], int, S]:
    """The booking's ledger entries, the member's balance, and the booking's status."""
    with session_scope() as session:
        entries = session.exec(
            select(CreditEntry.amount).where(CreditEntry.booking_id == booking_id)
        ).all()
        all_entries = session.exec(
            select(CreditEntry.amount).where(CreditEntry.member_id == member_id)
        ).all()
        balance = credits.balance(session, member_id=member_id)
        assert balance == sum(all_entries)
        return list(entries), balance, session.get(Booking, booking_id).status


def api_balance(live_app: str, coop: dict) -> int:
    return httpx.get(f"{live_app}/api/v1/credits", headers=coop["auth"]).json()["balance"]


def test_twenty_simultaneous_credit_payments_spend_once(live_app, coop):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    codes = at_once([pay(live_app, coop, booking.id, "credits")] * AT_ONCE)
    assert sorted(codes) == [200] + [409] * (AT_ONCE - 1), codes
    entries, balance, status = ledger(coop["member"].id, booking.id)
    assert entries == [-PRICE] and status == S.paid
    assert balance == api_balance(live_app, coop) == START - PRICE


def test_twenty_simultaneous_admin_cancels_refund_once(live_app, coop, admin_browser):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    assert at_once([pay(live_app, coop, booking.id, "credits")]) == [200]
    codes = at_once([admin_cancel(live_app, admin_browser, booking.id)] * AT_ONCE)
    assert sorted(codes) == [303] + [409] * (AT_ONCE - 1), codes
    entries, balance, status = ledger(coop["member"].id, booking.id)
    assert entries == [-PRICE, PRICE] and status == S.refunded
    assert balance == api_balance(live_app, coop) == START


def test_credits_and_invoice_at_once_choose_one_way_to_pay(live_app, coop):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    calls = [pay(live_app, coop, booking.id, m) for m in ("credits", "invoice")] * (AT_ONCE // 2)
    codes = at_once(calls)
    assert sorted(codes) == [200] + [409] * (AT_ONCE - 1), codes
    entries, balance, status = ledger(coop["member"].id, booking.id)
    with session_scope() as session:
        method = session.get(Booking, booking.id).method
    if method.value == "credits":
        assert entries == [-PRICE] and status == S.paid and balance == START - PRICE
    else:
        assert entries == [] and status == S.awaiting_payment and balance == START


@pytest.mark.parametrize("round_", range(3))
def test_pays_and_cancels_mixed_move_money_at_most_once(live_app, coop, admin_browser, round_):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    kinds = itertools.islice(itertools.cycle(["pay", "invoice", "member", "admin"]), AT_ONCE)
    calls = [
        {
            "pay": pay(live_app, coop, booking.id, "credits"),
            "invoice": pay(live_app, coop, booking.id, "invoice"),
            "member": member_cancel(live_app, coop, booking.id),
            "admin": admin_cancel(live_app, admin_browser, booking.id),
        }[kind]
        for kind in kinds
    ]
    codes = at_once(calls)
    assert all(code in (200, 303, 409) for code in codes), codes
    entries, balance, status = ledger(coop["member"].id, booking.id)
    spends = [e for e in entries if e < 0]
    refunds = [e for e in entries if e > 0]
    assert len(spends) <= 1 and len(refunds) <= len(spends)
    assert balance == api_balance(live_app, coop) == START - sum(-e for e in spends) + sum(refunds)
    if status in (S.paid,):
        assert balance == START - PRICE
    else:  # cancelled, refunded, awaiting an invoice: nothing (or nothing any more) is spent
        assert status in (S.cancelled, S.refunded, S.awaiting_payment), status
        assert balance == START


def test_the_ledger_refuses_a_second_spend_or_refund_of_one_booking(coop):
    _issue, slots = make_slots()
    booking = make_booking(coop["member"], slots[0])
    member_id = coop["member"].id
    for amount in (-PRICE, PRICE):
        with session_scope() as session:
            credits.add(
                session, member_id=member_id, amount=amount, reason="x", booking_id=booking.id
            )
        with pytest.raises(IntegrityError), session_scope() as session:
            credits.add(
                session, member_id=member_id, amount=amount, reason="y", booking_id=booking.id
            )
