"""An admin reads a sent issue's report in Chromium, at desktop and phone width; a
reader whose open preference page offers a topic the Club has just hidden is refused
with the form kept. Every page is checked with axe-core."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import BookingStatus
from app.members.models import Role
from app.subscribers.models import Subscriber, Topic, TopicStatus
from app.subscribers.service import preferences_token
from tests.e2e.conftest import audit
from tests.e2e.test_member import log_in_by_mail
from tests.marketplace.factories import make_booking, make_slots
from tests.members.factories import make_account, make_member
from tests.sending import factories as people
from tests.subscribers.helpers import make_topics, statuses

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SHOTS = Path("var/screenshots-admin")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_an_admin_reads_the_report_of_a_sent_issue(page, smtp, run_jobs):
    issue, slots = make_slots()
    make_booking(
        make_member("riverside", name="Riverside Food Co-op"), slots[0], upto=BookingStatus.approved
    )
    with session_scope() as session:
        topic = session.exec(select(Topic).where(Topic.slug == "commons-topic")).one()
    for name in ("ana", "bo", "cy"):
        people.active(f"{name}@example.org", [topic])
    run_jobs()
    smtp.clear()
    people.start_now(issue)
    run_jobs()
    [mail] = smtp.to("bo@example.org")
    unsubscribe = mail.message["List-Unsubscribe"].strip("<>")
    page.request.post(re.sub(r"^http://[^/]+", "", unsubscribe))
    smtp.clear()

    make_account("sam@club.example.org", role=Role.admin)
    log_in_by_mail(page, smtp, run_jobs, "sam@club.example.org")
    page.goto(f"/admin/issues/{issue.id}/sending")
    page.get_by_role("link", name=re.compile("^Report")).click()
    expect(page.get_by_role("heading", name=re.compile("^Report on"))).to_be_visible()
    figures = page.get_by_role("table").first
    expect(figures.get_by_role("row", name=re.compile("^Delivered"))).to_contain_text("3")
    expect(figures.get_by_role("row", name=re.compile("^Unsubscribed"))).to_contain_text("1")
    expect(page.get_by_role("img", name="This issue over time")).to_be_visible()
    clicks = page.get_by_role("region", name="Clicks per link")
    expect(clicks).to_contain_text("Riverside Food Co-op")  # placed, not clicked yet: 0
    audit(page)
    _shot(page, "issue-report-desktop")
    page.set_viewport_size(PHONE)
    audit(page)
    _shot(page, "issue-report-phone")


def test_a_topic_hidden_while_the_preference_page_was_open_is_refused(page, smtp, run_jobs):
    ids = make_topics()
    people.active("ana@example.org", [_topic("food")])
    with session_scope() as session:
        ana = session.exec(select(Subscriber).where(Subscriber.email == "ana@example.org")).one()
        token = preferences_token(ana)
    for size, name in (({"width": 1280, "height": 900}, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        with session_scope() as session:
            session.get(Topic, ids["housing"]).status = TopicStatus.open
        page.goto(f"/preferences/{token}")
        audit(page)
        with session_scope() as session:  # the Club hides it meanwhile
            session.get(Topic, ids["housing"]).status = TopicStatus.hidden
        page.get_by_role("checkbox", name=re.compile("^Housing")).check()
        page.get_by_role("button", name="Save my choices").click()
        expect(page.get_by_role("alert")).to_contain_text("no longer takes new subscribers")
        housing = page.get_by_role("checkbox", name=re.compile("^Housing"))
        expect(housing).to_be_checked()  # input kept, marked
        expect(housing).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("checkbox", name="Food co-ops", exact=True)).to_be_checked()
        audit(page)
        _shot(page, f"preferences-refused-{name}")
    assert "housing" not in statuses("ana@example.org")


def _topic(slug: str) -> Topic:
    with session_scope() as session:
        return session.exec(select(Topic).where(Topic.slug == slug)).one()
