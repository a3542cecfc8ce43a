"""A Club admin in a real browser: log in by the emailed link, approve a co-op, create a
newsletter, write an issue with the live preview, schedule it and find it in the public
archive once sent; start a send and watch the progress bar reach 100%."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app import demo
from app.db import session_scope, utcnow
from app.members.models import Role
from app.newsletters.models import Issue
from tests.e2e.conftest import audit, confirm_in_dialog
from tests.e2e.test_member import log_in_by_mail
from tests.members.factories import login_path, make_account
from tests.newsletters.factories import make_issue, make_newsletter, mark_sent, schedule_soon

pytestmark = pytest.mark.browser

ADMIN = "sam@club.example.org"
APPLICANT_OWNER = "owner@harbour-bakery.example.org"  # the demo seed's applicant


def test_admin_approves_a_coop_writes_schedules_sends_and_publishes_an_issue(page, smtp, run_jobs):
    seed_demo_audience()
    make_account(ADMIN, role=Role.admin)

    log_in_by_mail(page, smtp, run_jobs, ADMIN)
    expect(page.get_by_role("heading", name="Club admin")).to_be_visible()
    audit(page)
    expect(page.get_by_role("img", name="Subscribers per topic")).to_be_visible()

    # Approve the application; its owner hears about it.
    page.get_by_role("link", name="Applications").click()
    audit(page)
    page.get_by_role("button", name="Approve Harbour Bakery Workers' Co-op").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Harbour Bakery Workers' Co-op is approved"
    )
    audit(page)
    run_jobs()
    assert smtp.wait_for(APPLICANT_OWNER)

    # A newsletter: a mistake comes back marked, then it saves.
    page.get_by_role("link", name="Newsletters").click()
    audit(page)
    page.get_by_role("link", name="New newsletter").click()
    audit(page)
    page.get_by_label("Name", exact=True).fill("The Co-op Commons")
    page.get_by_label("Short name for its address").fill("Not A Slug!")
    page.get_by_role("checkbox", name="Food co-ops").check()
    page.get_by_label("Sender address").fill("news@club.example.org")
    page.get_by_role("button", name="Save newsletter").click()
    audit(page)
    expect(page.get_by_label("Short name for its address")).to_have_attribute(
        "aria-invalid", "true"
    )
    page.get_by_label("Short name for its address").fill("commons")
    page.get_by_role("button", name="Save newsletter").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    audit(page)

    # An issue, written with the live preview.
    page.get_by_label("Subject").fill("Spring at the co-ops")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Issue 1: Spring at the co-ops")).to_be_visible()
    audit(page)
    preview = page.frame_locator("#preview-html")
    page.locator("textarea").first.fill("Seed swaps are back at **Riverside** this spring.")
    expect(page.locator("#preview-status")).to_have_text("Preview is up to date.")
    expect(preview.locator("body")).to_contain_text("Seed swaps are back at Riverside")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status").first).to_contain_text("Draft saved")
    audit(page)

    when = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Date and time").fill(when)
    page.get_by_role("button", name="Schedule and freeze").click()
    expect(page.get_by_role("status").first).to_contain_text("Scheduled for")
    audit(page)

    # The send itself is covered below (test_progress_bar_...); here it is marked sent
    # through the services, as the send pipeline would at the end.
    with session_scope() as session:
        issue = session.exec(select(Issue)).one()
    mark_sent(issue)

    page.goto("/archive/commons")
    audit(page)
    page.get_by_role("link", name="Spring at the co-ops").click()
    expect(page.locator("body")).to_contain_text("Seed swaps are back at Riverside")
    audit(page)


def seed_demo_audience() -> None:
    with session_scope() as session:
        members = demo.seed_members(session)
        demo.seed_subscribers(session, members, demo.seed_topics(session, members))


def test_progress_bar_reaches_100_percent_as_the_issue_sends(page, smtp, run_jobs):
    seed_demo_audience()
    with session_scope() as session:
        food = session.exec(select(demo.Topic).where(demo.Topic.slug == "food-coops")).one()
    issue = schedule_soon(make_issue(make_newsletter(topics=[food]), "Harvest news"))
    admin = make_account(ADMIN, role=Role.admin)

    page.goto(login_path(admin, f"/admin/issues/{issue.id}/sending"))
    audit(page)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Sending “Harvest news”")).to_be_visible()
    audit(page)
    bar = page.get_by_role("progressbar", name="Delivery progress")
    expect(bar).to_have_attribute("value", re.compile(r"^0(\.0)?$"))
    expect(page.get_by_text("Nothing has been sent yet")).to_be_visible()
    # Going back from the question changes nothing.
    page.get_by_role("button", name="Start sending now").click()
    question = page.get_by_role("dialog", name=re.compile(r"to \d+ people now\?"))
    question.get_by_role("button", name="Go back").click()
    expect(question).to_be_hidden()
    expect(page.locator("#p-status")).to_have_text("scheduled")
    page.get_by_role("button", name="Start sending now").click()
    confirm_in_dialog(page, re.compile(r"to \d+ people now\?"), re.compile("^Start sending to"))
    expect(page.get_by_role("status").first).to_contain_text("Sending has started")
    run_jobs()
    expect(bar).to_have_attribute("value", re.compile(r"^100(\.0)?$"))
    expect(page.locator("#p-status")).to_have_text("sent")
    # The controls and the summary follow the progress, without a reload.
    expect(page.get_by_text("Finished: every delivery of this issue is done.")).to_be_visible()
    for gone in ("Start sending now", "Cancel", "Pause", "Resume"):
        expect(page.get_by_role("button", name=gone, exact=True)).to_have_count(0)
    expect(page.get_by_text("Nothing has been sent yet")).to_be_hidden()
    expect(page.get_by_role("link", name="reload the delivery log")).to_be_visible()
    audit(page)
    for address in [row[0] for row in demo.DEMO_SUBSCRIBERS if "food-coops" in row[2]]:
        assert smtp.wait_for(address)
