"""What a member sees while paying: credits offered only when the balance covers the
price, and an invoice payer writing the creative while the invoice is open (it goes for
approval once an admin records the payment)."""

from __future__ import annotations

from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import Booking, BookingStatus, Creative
from app.members.models import Role
from app.payments import credits
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_member, post_form

S = BookingStatus


def status(booking_id: int) -> S:
    with session_scope() as session:
        return session.get(Booking, booking_id).status


def test_credits_are_offered_only_when_the_balance_covers_the_price(client):
    member = make_member("riverside")
    log_in(client, make_account("owner@riverside.example.org", member=member))
    _issue, slots = make_slots()
    booking = make_booking(member, slots[0])
    page = client.get(f"/member/bookings/{booking.id}")
    assert 'value="credits"' not in page.text
    assert "needs 25,000 credits; your co-op has 0" in page.text
    with session_scope() as session:
        credits.add(session, member_id=member.id, amount=25_000, reason="Recruited")
    page = client.get(f"/member/bookings/{booking.id}")
    assert 'value="credits"' in page.text and "With credits (25,000 credits)" in page.text
    assert "credits-short" not in page.text


def test_an_invoice_payer_writes_the_creative_while_the_invoice_is_open(client, smtp, run_jobs):
    member = make_member("riverside")
    owner = make_account("owner@riverside.example.org", member=member)
    _issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto=S.awaiting_payment)
    log_in(client, owner)
    page = client.get(f"/member/bookings/{booking.id}")
    assert 'id="creative"' in page.text and "Write the creative meanwhile" in page.text
    saved = post_form(
        client, f"/member/bookings/{booking.id}/creative", {**CREATIVE, "action": "submit"}
    )
    assert saved.status_code == 200
    assert "once the invoice is paid" in saved.text
    assert status(booking.id) == S.awaiting_payment  # not in the approval queue yet
    with session_scope() as session:
        assert session.exec(select(Creative).where(Creative.booking_id == booking.id)).one()

    client.post("/logout")
    client.cookies.clear()
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    queue = client.get("/admin/marketplace").text
    assert "Riverside" in queue  # the invoice list names the co-op
    post_form(client, f"/admin/marketplace/bookings/{booking.id}/mark-paid")
    assert status(booking.id) == S.creative_submitted
    run_jobs()
    [mail] = smtp.wait_for("owner@riverside.example.org")
    assert "now goes to a Club admin for approval" in mail.text()
