"""The marketplace in a real browser, two people taking turns: a co-op's owner books a
sponsor slot and pays by invoice; a Club admin marks the invoice paid; the owner writes
the creative, previews it inside the issue and submits it; the admin approves it, sends
the issue and finds it in the archive with the creative behind the /r/ redirect; the
owner reads the sponsor report."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app import demo
from app.db import session_scope, utcnow
from app.members.models import Role
from app.newsletters import service as newsletters
from app.newsletters.models import Issue
from tests.e2e.conftest import PHONE, audit, confirm_in_dialog, link_from_mail
from tests.e2e.test_admin import seed_demo_audience
from tests.e2e.test_member import log_in_by_mail
from tests.members.factories import make_account
from tests.newsletters.factories import make_issue, make_newsletter

pytestmark = pytest.mark.browser

OWNER = "owner@riverside-food.example.org"  # the demo seed's Riverside owner
ADMIN = "sam@club.example.org"
HEADLINE = "Fresh bread at Riverside"
BODY = "Our bakery opens on *Saturday*. Members get a loaf free."
LINK = "https://riverside.example.org/bakery"


def mail_titled(smtp, address: str, subject: str, timeout: float = 15.0):
    """The message to `address` with this subject, once it has arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in smtp.to(address):
            if received.message["Subject"] == subject:
                return received
        time.sleep(0.05)
    got = [r.message["Subject"] for r in smtp.to(address)]
    raise AssertionError(f"no mail titled {subject!r} to {address}; got {got}")


def harvest_issue_in_three_days() -> Issue:
    """A newsletter for the food co-ops' audience with one issue scheduled far enough out
    that its sponsor slot is still open for creatives (they are due a day before)."""
    with session_scope() as session:
        food = session.exec(select(demo.Topic).where(demo.Topic.slug == "food-coops")).one()
    issue = make_issue(
        make_newsletter("harvest", name="Harvest Table", topics=[food]), "Harvest news"
    )
    with session_scope() as session:
        issue = session.get(Issue, issue.id)
        newsletters.schedule(session, issue, send_at=utcnow() + timedelta(days=3), timezone="UTC")
    return issue


def test_a_coop_books_a_slot_and_its_approved_creative_goes_out_in_the_issue(
    page, other_page, smtp, run_jobs, base_url
):
    seed_demo_audience()
    issue = harvest_issue_in_three_days()
    make_account(ADMIN, role=Role.admin)
    owner, admin = page, other_page

    # The owner books the sponsor slot and asks for an invoice (the default here).
    log_in_by_mail(owner, smtp, run_jobs, OWNER)
    expect(owner.get_by_role("heading", name="Riverside Food Co-op", level=1)).to_be_visible()
    audit(owner)
    owner.get_by_role("link", name="Book a slot").click()
    audit(owner)
    offer = owner.get_by_role("region", name="Harvest Table #1: Harvest news")
    offer.get_by_role("button", name=re.compile(r"^Book the sponsor slot")).click()
    expect(owner.get_by_role("status").first).to_contain_text("held for you for 15 minutes")
    audit(owner)
    booking_url = owner.url
    assert re.search(r"/member/bookings/\d+$", booking_url)
    booking_id = int(booking_url.rsplit("/", 1)[1])
    expect(owner.get_by_role("radio", name="By invoice")).to_be_checked()
    owner.get_by_role("button", name="Continue").click()
    expect(owner.get_by_role("status").first).to_contain_text("We will send an invoice")
    expect(owner.locator("#booking-status")).to_have_text("awaiting payment")
    audit(owner)

    # The admin records the payment; the owner hears about it.
    log_in_by_mail(admin, smtp, run_jobs, ADMIN)
    audit(admin)
    admin.get_by_role("link", name="Marketplace").click()
    audit(admin)
    admin.get_by_role("button", name=f"Mark paid booking #{booking_id}").click()
    expect(admin.get_by_role("status").first).to_contain_text("Marked paid")
    audit(admin)
    run_jobs()
    paid = mail_titled(smtp, OWNER, "Your slot is booked and paid")

    # The owner follows the mail back, writes the creative and sees it inside the issue.
    owner.goto(link_from_mail(paid, rf"/member/bookings/{booking_id}$"))
    expect(owner.locator("#booking-status")).to_have_text("paid: waiting for the creative")
    audit(owner)
    owner.get_by_role("textbox", name=re.compile(r"^Headline ")).fill(HEADLINE)
    owner.get_by_role("textbox", name=re.compile(r"^Text ")).fill(BODY)
    owner.get_by_role("textbox", name=re.compile(r"^Link ")).fill("riverside.example.org")
    owner.get_by_role("button", name="Preview in the issue").click()
    audit(owner)
    expect(owner.get_by_role("textbox", name=re.compile(r"^Link "))).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(owner.get_by_role("textbox", name=re.compile(r"^Headline "))).to_have_value(HEADLINE)
    owner.get_by_role("textbox", name=re.compile(r"^Link ")).fill(LINK)
    owner.get_by_role("button", name="Preview in the issue").click()
    audit(owner)
    preview = owner.frame_locator("iframe[title='The issue with your creative']")
    expect(preview.locator("body")).to_contain_text(HEADLINE)
    expect(preview.locator("body")).to_contain_text("Members get a loaf free")
    expect(preview.locator("body")).to_contain_text("Welcome to this issue.")  # the issue itself
    owner.get_by_role("button", name="Submit for approval").click()
    expect(owner.get_by_role("status").first).to_contain_text("a Club admin will review it")
    expect(owner.locator("#booking-status")).to_have_text("creative waiting for approval")
    audit(owner)

    # The admin approves it from the queue; the owner is emailed.
    admin.get_by_role("link", name="← Marketplace").click()
    audit(admin)
    admin.get_by_role("listitem").filter(has_text=HEADLINE).get_by_role("link").click()
    expect(admin.get_by_role("heading", name=f"Booking #{booking_id}")).to_be_visible()
    audit(admin)
    admin.get_by_role("button", name="Approve").click()
    expect(admin.get_by_role("status").first).to_contain_text("Approved; the member is emailed")
    audit(admin)
    run_jobs()
    approved = mail_titled(smtp, OWNER, "Your creative is approved")
    assert HEADLINE in approved.text()

    # The admin sends the issue and watches it reach 100%, with the outcome as a chart.
    admin.goto(f"/admin/issues/{issue.id}/sending")
    audit(admin)
    admin.get_by_role("button", name="Start sending now").click()
    confirm_in_dialog(admin, re.compile(r"now\?$"), re.compile("^Start sending to"))
    expect(admin.get_by_role("status").first).to_contain_text("Sending has started")
    run_jobs()
    bar = admin.get_by_role("progressbar", name="Delivery progress")
    expect(bar).to_have_attribute("value", re.compile(r"^100(\.0)?$"))
    expect(admin.locator("#p-status")).to_have_text("sent")
    audit(admin)
    admin.reload()
    expect(admin.get_by_role("img", name="Deliveries of this issue by outcome")).to_be_visible()
    audit(admin)
    readers = [row[0] for row in demo.DEMO_SUBSCRIBERS if "food-coops" in row[2]]
    for address in readers:
        [newsletter_mail] = smtp.wait_for(address)
        assert HEADLINE in newsletter_mail.text()

    # In the archive the creative is there, its link going through the click redirect.
    admin.goto("/archive/harvest")
    audit(admin)
    admin.get_by_role("link", name="Harvest news").click()
    expect(admin.locator("body")).to_contain_text(HEADLINE)
    audit(admin)
    href = admin.locator("a[href*='/r/']").first.get_attribute("href")
    assert href and href.startswith(f"{base_url}/r/")
    clicked = admin.request.get(href, max_redirects=0)
    assert clicked.status == 303
    assert clicked.headers["location"] == LINK

    # The owner's report: delivered and clicked, in numbers and as a chart.
    owner.goto(booking_url)
    expect(owner.locator("#report-delivered")).to_have_text(str(len(readers)))
    expect(owner.locator("#report-clicks")).to_have_text("1")
    expect(owner.get_by_role("img", name=re.compile("Your sponsor report"))).to_be_visible()
    audit(owner)
    owner.set_viewport_size(PHONE)
    audit(owner)
    admin.set_viewport_size(PHONE)
    admin.goto("/admin/marketplace")
    audit(admin)
