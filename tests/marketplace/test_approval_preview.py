"""Approvers see who booked, the price, and the creative exactly as the email will show
it; the member sees the same preview. The preview is its own page under the email policy
(inline styles, no script), shown in a sandboxed frame."""

from __future__ import annotations

import re

from app.db import session_scope
from app.marketplace import placement
from app.members.models import Role
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_member, post_form

EMAIL_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def frame_src(html: str) -> str:
    match = re.search(r'<iframe class="preview-frame"[^>]* sandbox src="([^"]+)"', html)
    assert match, "no sandboxed preview frame"
    return match.group(1).replace("&amp;", "&")


CLICK_LINK = re.compile(r"/r/([^\"'\s<>]+)")


def same_email(member_view: str, admin_view: str) -> bool:
    """The same email, link for link: each render signs the creative's click link anew
    (the signature carries the second it was made), so the links are compared by the
    creative they lead to rather than byte for byte."""
    with session_scope() as session:
        leads = [
            [placement.creative_for_token(session, t).id for t in CLICK_LINK.findall(view)]
            for view in (member_view, admin_view)
        ]
    return CLICK_LINK.sub("/r/…", member_view) == CLICK_LINK.sub("/r/…", admin_view) and (
        leads[0] == leads[1] != []
    )


def test_the_approver_sees_who_booked_the_price_and_the_email_itself(client):
    member = make_member("riverside", name="Riverside Bakery")
    _issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto="creative_submitted")
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    queue = client.get("/admin/marketplace").text
    assert "Riverside Bakery · 250.00 CAD" in queue
    page = client.get(f"/admin/marketplace/bookings/{booking.id}").text
    assert "Riverside Bakery" in page and "250.00 CAD" in page and "invoice" in page
    email = client.get(frame_src(page))
    assert email.status_code == 200
    assert email.headers["content-security-policy"].startswith(EMAIL_POLICY)
    assert CREATIVE["headline"] in email.text and "Sponsored by Riverside Bakery" in email.text
    assert "<em>Saturday</em>" in email.text  # Markdown rendered as the email renders it
    assert "*Saturday*" not in email.text


def test_the_member_previews_what_they_typed_the_way_the_approver_will_see_it(client):
    member = make_member("riverside", name="Riverside Bakery")
    owner = make_account("owner@riverside.example.org", member=member)
    _issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto="paid")
    log_in(client, owner)
    typed = {**CREATIVE, "headline": "Rye on Sundays", "action": "preview"}
    page = post_form(client, f"/member/bookings/{booking.id}/creative", typed)
    assert page.status_code == 200
    src = frame_src(page.text)
    email = client.get(src)
    assert email.headers["content-security-policy"].startswith(EMAIL_POLICY)
    assert "Rye on Sundays" in email.text and 'style="' in email.text
    # The signed draft cannot be bent to show anything else, nor another booking.
    forged = client.get(src[:-3] + "abc")
    assert forged.status_code == 200 and "Rye on Sundays" not in forged.text
    other = make_booking(member, slots[1], upto="paid")
    moved = client.get(src.replace(f"/bookings/{booking.id}/", f"/bookings/{other.id}/"))
    assert "Rye on Sundays" not in moved.text

    post_form(client, f"/member/bookings/{booking.id}/creative", {**typed, "action": "submit"})
    submitted = client.get(f"/member/bookings/{booking.id}").text
    stored = client.get(frame_src(submitted)).text
    client.post("/logout")
    client.cookies.clear()
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    admin_view = client.get(f"/admin/marketplace/bookings/{booking.id}/preview.html").text
    assert same_email(stored, admin_view) and "Rye on Sundays" in stored
