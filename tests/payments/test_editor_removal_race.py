"""Removing a booked slot block in the issue editor cancels its booking through the
marketplace's one cancel path: twenty simultaneous confirmed removals (a double click, many
tabs) on PostgreSQL refund a credit-paid booking exactly once."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import BookingStatus
from app.newsletters.models import IssueBlock
from tests.marketplace.factories import make_booking, make_slots
from tests.payments import test_money_races as races
from tests.payments.test_money_races import AT_ONCE, PRICE, START, api_balance, at_once, ledger, pay

pytestmark = pytest.mark.postgres
coop, admin_browser = races.coop, races.admin_browser  # the money race tests' fixtures


def remove_block(live_app: str, browser: tuple, issue_id: int, block_id: int, booking_id: int):
    cookies, token = browser

    def call() -> int:
        with httpx.Client(base_url=live_app, timeout=60, cookies=cookies) as http:
            return http.post(
                f"/admin/issues/{issue_id}/blocks/{block_id}/delete",
                data={"csrf_token": token, "confirmed": "yes", "cancel_booking": str(booking_id)},
                follow_redirects=False,
            ).status_code

    return call


def test_twenty_simultaneous_removals_of_a_booked_block_refund_once(live_app, coop, admin_browser):
    issue, slots = make_slots(schedule=False)
    booking = make_booking(coop["member"], slots[0])
    assert at_once([pay(live_app, coop, booking.id, "credits")]) == [200]
    with session_scope() as session:
        block = session.exec(
            select(IssueBlock).where(
                IssueBlock.issue_id == issue.id, IssueBlock.position == slots[0].position
            )
        ).one()
    codes = at_once(
        [remove_block(live_app, admin_browser, issue.id, block.id, booking.id)] * AT_ONCE
    )
    assert set(codes) == {303}, codes  # each lands back in the editor
    entries, balance, status = ledger(coop["member"].id, booking.id)
    assert entries == [-PRICE, PRICE] and status == BookingStatus.refunded
    assert balance == api_balance(live_app, coop) == START
    with session_scope() as session:
        assert session.get(IssueBlock, block.id).removed_at is not None
