"""Placement at send start, the counting redirect, the sponsor report, and member pages."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db import session_scope
from app.marketplace import placement
from app.marketplace.models import Booking, BookingStatus, ClickCount, Creative
from app.newsletters.models import Issue, IssueStatus
from app.sending import lifecycle
from app.sending.models import Delivery, DeliveryStatus
from app.subscribers.models import Subscriber
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_key, make_member, post_form
from tests.test_charts import bars


def creative_of(booking) -> Creative:
    with session_scope() as session:
        return session.exec(select(Creative).where(Creative.booking_id == booking.id)).one()


def stop_before_assembly(session, issue) -> None:
    """These tests look at placement only: cancel in the same transaction, so the
    assembly job that start() enqueues finds nothing to do."""
    lifecycle.cancel(session, issue)


def test_starting_to_send_places_approved_creatives_behind_the_redirect(client):
    member = make_member("riverside", name="Riverside Food Co-op")
    issue, slots = make_slots()
    approved = make_booking(member, slots[0], upto=BookingStatus.approved)
    waiting = make_booking(make_member("northwind"), slots[1], upto=BookingStatus.paid)
    with session_scope() as session:
        row = session.get(Issue, issue.id)
        lifecycle.start(session, row)
        assert row.status == IssueStatus.sending
        assert session.get(Booking, approved.id).status == BookingStatus.placed
        assert session.get(Booking, waiting.id).status == BookingStatus.paid
        stop_before_assembly(session, row)
    assert CREATIVE["headline"] in row.compiled_html and "Riverside Food Co-op" in row.compiled_html
    assert CREATIVE["link"] not in row.compiled_html  # only our redirect is in the email
    [token] = set(re.findall(r"http://testserver/r/([\w.-]+)", row.compiled_html))
    assert f"http://testserver/r/{token}" in row.compiled_text
    creative_id = creative_of(approved).id
    with session_scope() as session:
        assert placement.creative_for_token(session, token).id == creative_id


def test_the_redirect_counts_clicks_and_cannot_be_pointed_elsewhere(client):
    member = make_member("riverside")
    _issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto=BookingStatus.approved)
    creative = creative_of(booking)
    token = placement.click_token(creative.id)
    for _ in range(2):
        response = client.get(f"/r/{token}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == CREATIVE["link"]
    # A token naming another creative, a tampered one, or one with a URL in it: 404.
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (forged, "https%3A%2F%2Fevil.example", token + "x"):
        assert client.get(f"/r/{bad}", follow_redirects=False).status_code == 404
    assert (
        client.get(f"/r/{token}?url=https://evil.example", follow_redirects=False).headers[
            "location"
        ]
        == CREATIVE["link"]
    )
    with session_scope() as session:
        [count] = session.exec(select(ClickCount)).all()
    assert (count.creative_id, count.clicks) == (creative.id, 3)


def test_the_report_counts_what_was_delivered_and_clicked(client):
    member = make_member("riverside")
    owner = make_account("owner@riverside.example.org", member=member)
    _k, secret = make_key(member)
    issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto=BookingStatus.approved)
    with session_scope() as session:
        row = session.get(Issue, issue.id)
        lifecycle.start(session, row)
        stop_before_assembly(session, row)
        for n, status in enumerate(
            [DeliveryStatus.sent] * 3 + [DeliveryStatus.failed, DeliveryStatus.queued]
        ):
            subscriber = Subscriber(email=f"p{n}@example.org", address_hmac=f"h{n}")
            session.add(subscriber)
            session.flush()
            session.add(
                Delivery(issue_id=issue.id, subscriber_id=subscriber.id, batch=0, status=status)
            )
    token = placement.click_token(creative_of(booking).id)
    for _ in range(2):
        client.get(f"/r/{token}", follow_redirects=False)
    report = client.get(
        f"/api/v1/bookings/{booking.id}/report", headers={"Authorization": f"Bearer {secret}"}
    ).json()
    assert (report["delivered"], report["clicks"]) == (3, 2)
    assert report["links"] == [{"url": CREATIVE["link"], "clicks": 2}]
    assert report["web_url"].endswith(f"/archive/commons/{issue.number}")

    log_in(client, owner)
    page = client.get(f"/member/bookings/{booking.id}")
    assert re.search(r'id="report-delivered">3<', page.text)
    assert re.search(r'id="report-clicks">2<', page.text)
    assert "%" not in page.text.split('id="report-heading"')[1].split("</section>")[0]
    assert "Clicks are counted, not people" in page.text
    assert 'aria-label="Your sponsor report: people it was delivered to' in page.text
    drawn = bars(page.text)
    assert {label: value for label, (_, value) in drawn.items()} == {"Delivered": 3, "Clicks": 2}
    assert drawn["Delivered"][0] > drawn["Clicks"][0] > 0
    assert 'style="' not in page.text


def test_the_report_chart_waits_until_something_was_delivered(client):
    member = make_member("riverside")
    owner = make_account("owner@riverside.example.org", member=member)
    issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto=BookingStatus.approved)
    log_in(client, owner)
    page = client.get(f"/member/bookings/{booking.id}").text
    assert "report-delivered" not in page and "<svg" not in page  # approved: no report yet
    with session_scope() as session:
        row = session.get(Issue, issue.id)
        lifecycle.start(session, row)
        stop_before_assembly(session, row)
    page = client.get(f"/member/bookings/{booking.id}").text
    assert re.search(r'id="report-delivered">0<', page)
    assert "the chart appears once the issue goes out" in page and "<svg" not in page


def test_a_member_books_pays_by_invoice_and_previews_the_creative_in_the_issue(client):
    member = make_member("riverside", name="Riverside Food Co-op")
    owner = make_account("owner@riverside.example.org", member=member)
    _issue, slots = make_slots()
    log_in(client, owner)
    assert "/member/slots" in client.get("/member").text
    inventory = client.get("/member/slots")
    assert "Sponsor (position 2)" in inventory.text and "250.00 CAD" in inventory.text
    held = post_form(client, "/member/bookings", {"slot_id": slots[0].id}, follow_redirects=False)
    assert held.status_code == 303
    booking_url = held.headers["location"]
    booking_id = int(booking_url.rsplit("/", 1)[1])
    post_form(client, f"{booking_url}/pay", {"method": "invoice"})
    with session_scope() as session:
        from app.marketplace import service

        service.mark_invoice_paid(session, session.get(Booking, booking_id))

    bad = post_form(
        client,
        f"{booking_url}/creative",
        {**CREATIVE, "link": "http://x.example", "action": "preview"},
    )
    assert (
        bad.status_code == 422 and "https://" in bad.text and 'value="http://x.example"' in bad.text
    )
    preview = post_form(client, f"{booking_url}/creative", {**CREATIVE, "action": "preview"})
    assert preview.status_code == 200
    src = re.search(r'class="preview-frame"[^>]* sandbox src="([^"]+)"', preview.text).group(1)
    framed = client.get(src.replace("&amp;", "&")).text
    assert "Fresh bread at Riverside" in framed
    assert "Spring at the co-ops" in framed  # the issue around it
    with session_scope() as session:
        assert session.get(Booking, booking_id).status == BookingStatus.paid
    post_form(client, f"{booking_url}/creative", {**CREATIVE, "action": "submit"})
    with session_scope() as session:
        assert session.get(Booking, booking_id).status == BookingStatus.creative_submitted


def test_the_demo_offers_free_slots_a_booking_and_credits(client):
    from click.testing import CliRunner

    from app.cli import cli
    from app.marketplace.models import Booking
    from app.members.models import Member
    from app.payments import credits

    runner = CliRunner()
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    with session_scope() as session:
        [booking] = session.exec(select(Booking)).all()
        assert booking.status == BookingStatus.approved
        riverside = session.exec(select(Member).where(Member.slug == "riverside-food-coop")).one()
        assert credits.balance(session, member_id=riverside.id) == 35_000


def test_the_inventory_says_one_person_for_an_audience_of_one(client, smtp, run_jobs):
    from tests.admin.helpers import reader

    make_slots()
    reader(client, smtp, run_jobs, "ana@example.org", ["commons-topic"])
    log_in(client, make_account("owner@riverside.example.org", member=make_member("riverside")))
    page = client.get("/member/slots").text
    assert "Current audience: 1 person<" in page and "1 people" not in page
