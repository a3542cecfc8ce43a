"""What a member's people and applicants can make the Club do: staff do not spend money
or submit mailings; only approved members invite, within limits, with subjects in the
Club's words; applications are approved or declined with a reason, never "suspended"."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import Booking, BookingStatus
from app.members.models import Account, Member, MemberStatus, Role
from app.payments import credits
from app.sharing import mailings
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_member, post_form
from tests.members.test_applications import apply, apply_and_confirm

S = BookingStatus


@pytest.fixture
def team():
    member = make_member("riverside-food", name="Riverside Food Co-op")
    owner = make_account("owner@riverside.example.org", member=member)
    staff = make_account("staff@riverside.example.org", member=member, role=Role.staff)
    with session_scope() as session:
        credits.add(session, member_id=member.id, amount=100_000, reason="Recruited")
    return member, owner, staff


def booking_status(booking_id: int) -> S:
    with session_scope() as session:
        return session.get(Booking, booking_id).status


def test_staff_write_creatives_but_do_not_book_pay_cancel_or_submit_mailings(client, team):
    member, _owner, staff = team
    _issue, slots = make_slots()
    held = make_booking(member, slots[0])
    paid = make_booking(member, slots[1], upto=S.paid)
    log_in(client, staff)
    assert post_form(client, "/member/bookings", {"slot_id": slots[2].id}).status_code == 403
    pay = post_form(client, f"/member/bookings/{held.id}/pay", {"method": "credits"})
    assert pay.status_code == 403 and "owners" in pay.text
    assert post_form(client, f"/member/bookings/{held.id}/cancel").status_code == 403
    assert booking_status(held.id) == S.held
    with session_scope() as session:
        assert credits.balance(session, member_id=member.id) == 100_000
    page = client.get(f"/member/bookings/{held.id}").text
    assert 'value="credits"' not in page and "An owner of your co-op chooses how to pay" in page
    assert "/cancel" not in page
    written = post_form(
        client, f"/member/bookings/{paid.id}/creative", {**CREATIVE, "action": "submit"}
    )
    assert written.status_code == 200 and booking_status(paid.id) == S.creative_submitted

    with session_scope() as session:
        mailing = mailings.create(session, member=session.get(Member, member.id), subject="News")
    assert post_form(client, f"/member/mailings/{mailing.id}/submit").status_code == 403
    assert "An owner of your co-op submits" in client.get(f"/member/mailings/{mailing.id}").text


def invite(client, address: str):
    return post_form(client, "/member/staff", {"email": address, "role": "staff"})


def test_an_applicant_not_yet_approved_cannot_invite_anyone(client, smtp, run_jobs):
    assert apply_and_confirm(client, smtp, run_jobs).status_code == 201
    with session_scope() as session:
        owner = session.exec(select(Account)).one()
    log_in(client, owner)
    refused = invite(client, "stranger@example.org")
    assert refused.status_code == 422
    assert "once the Club has approved" in refused.text
    run_jobs()
    assert smtp.to("stranger@example.org") == []


def test_invitations_are_limited_per_member_and_per_address(client, team, smtp, run_jobs):
    _member, owner, _staff = team
    log_in(client, owner)
    # The same address invited over and over: three mails a day at most.
    for _ in range(3):
        assert invite(client, "again@example.org").status_code == 200
    fourth = invite(client, "again@example.org")
    assert fourth.status_code == 422 and "invited too often today" in fourth.text
    # Many addresses at once: ten an hour per member (the first three count).
    codes = [invite(client, f"person{n}@example.org").status_code for n in range(10)]
    assert codes == [200] * 7 + [422] * 3
    run_jobs()
    assert len(smtp.wait_for("again@example.org", count=3)) == 3
    [mail] = smtp.wait_for("person0@example.org")
    assert mail.message["Subject"] == "You are invited to a co-op's team on Co-op Data Club"


def test_no_member_typed_text_reaches_a_subject(client, smtp, run_jobs):
    name = "Harbour — CLICK http://evil.example/win now"
    member = make_member("harbour", name=name)
    owner = make_account("owner@harbour.example.org", member=member)
    owner_name = "Ada <b>CLICK</b> http://evil.example"
    with session_scope() as session:
        session.get(Account, owner.id).display_name = owner_name
    log_in(client, owner)
    assert invite(client, "new@example.org").status_code == 200
    client.post("/logout")
    client.cookies.clear()
    log_in(client, make_account("admin@club.test", role=Role.admin))
    post_form(client, f"/admin/members/{member.id}/suspend", {"confirmed": "yes"})
    run_jobs()
    mails = smtp.wait_for("new@example.org") + smtp.wait_for("owner@harbour.example.org")
    for mail in mails:
        assert "evil" not in mail.message["Subject"] and "CLICK" not in mail.message["Subject"]
    invitation = mails[0]
    assert name in invitation.text()
    assert "&lt;b&gt;CLICK&lt;/b&gt;" in invitation.html()


def test_an_application_is_declined_with_a_reason_and_the_address_can_apply_again(
    client, smtp, run_jobs
):
    assert apply_and_confirm(client, smtp, run_jobs).status_code == 201
    with session_scope() as session:
        member = session.exec(select(Member)).one()
    log_in(client, make_account("admin@club.test", role=Role.admin))
    assert "Reason for declining" in client.get("/admin/applications").text
    suspended = post_form(client, f"/admin/members/{member.id}/suspend", {"confirmed": "yes"})
    assert "approved or declined, not suspended" in suspended.text
    empty = post_form(client, f"/admin/members/{member.id}/decline", {"reason": "  "})
    assert "Say why" in empty.text
    declined = post_form(
        client,
        f"/admin/members/{member.id}/decline",
        {"reason": "We only take co-ops registered in Canada."},
    )
    assert "application is declined" in declined.text
    with session_scope() as session:
        member = session.get(Member, member.id)
        owner = session.exec(select(Account).where(Account.role == Role.owner)).one()
        assert member.status == MemberStatus.declined and not owner.active
    run_jobs()
    [_confirm, mail] = smtp.wait_for("ada@harbour.example.org", 2)
    assert mail.message["Subject"] == "Your application to Co-op Data Club was declined"
    assert "We only take co-ops registered in Canada." in mail.text()
    assert "suspended" not in mail.text()
    client.post("/logout")
    client.cookies.clear()
    again = apply_and_confirm(client, smtp, run_jobs, slug="harbour-bakery-2")
    assert again.status_code == 201


def test_apply_explains_an_address_that_already_belongs_to_a_co_op_by_mail(
    client, team, smtp, run_jobs
):
    answer = apply(client, owner_email="staff@riverside.example.org")
    assert answer.status_code == 202  # the page answers as for any address
    assert "already" not in answer.text
    run_jobs()
    (mail,) = smtp.wait_for("staff@riverside.example.org")
    assert "already has a login on the Club" in mail.text() and "log in with" in mail.text()
