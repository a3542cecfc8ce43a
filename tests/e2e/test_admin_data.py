"""A Club admin runs the lists in a real browser: opens a topic, finds a subscriber by
address and unsubscribes them (confirmed in the dialog), and imports 20,000 rows while
watching the progress page count them live. Every page is checked with axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app.db import session_scope
from app.members.models import Role
from app.subscribers.models import ImportJob, JobStatus, Topic
from tests.e2e.conftest import audit, confirm_in_dialog
from tests.e2e.test_member import log_in_by_mail
from tests.members.factories import make_account
from tests.subscribers.helpers import statuses

pytestmark = pytest.mark.browser

ADMIN = "sam@club.example.org"


def _reader(page, smtp, run_jobs, email: str, topic: str) -> None:
    """Someone subscribes on the hosted page and confirms from the email."""
    from tests.e2e.conftest import link_from_mail

    page.goto(f"/subscribe/{topic}")
    page.get_by_label("Email address").fill(email)
    page.wait_for_timeout(2_100)  # a person takes a moment; faster forms are treated as bots
    page.get_by_role("button", name=re.compile("Subscribe")).click()
    run_jobs()
    [mail] = smtp.wait_for(email)
    page.goto(link_from_mail(mail, r"/confirm/"))
    page.get_by_role("button", name=re.compile("Confirm")).click()
    smtp.clear()


def test_admin_opens_a_topic_finds_a_subscriber_and_unsubscribes_them(page, smtp, run_jobs):
    make_account(ADMIN, role=Role.admin)
    log_in_by_mail(page, smtp, run_jobs, ADMIN)
    admin_nav = page.get_by_role("navigation", name="Admin")
    admin_nav.get_by_role("link", name="Topics", exact=True).click()
    expect(page.get_by_role("heading", name="Topics", exact=True)).to_be_visible()
    audit(page)
    # A mistake first: it comes back marked, with what was typed kept.
    page.get_by_label("Web address").fill("Bike Co-ops!")
    page.get_by_label(re.compile(r"^Name")).fill("Bike co-ops")
    page.get_by_role("button", name="Open the topic").click()
    expect(page.get_by_label("Web address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label(re.compile(r"^Name"))).to_have_value("Bike co-ops")
    audit(page)
    page.get_by_label("Web address").fill("bike-coops")
    page.get_by_label("Description").fill("Repair shops and cargo bikes, owned together.")
    page.get_by_role("button", name="Open the topic").click()
    expect(page.get_by_role("status").first).to_contain_text("Bike co-ops is open")
    audit(page)

    page.context.clear_cookies()
    _reader(page, smtp, run_jobs, "ana@example.org", "bike-coops")
    _reader(page, smtp, run_jobs, "anabel@example.org", "bike-coops")
    assert statuses("ana@example.org") == {"bike-coops": ("active", None)}

    log_in_by_mail(page, smtp, run_jobs, ADMIN)
    admin_nav = page.get_by_role("navigation", name="Admin")
    admin_nav.get_by_role("link", name="Subscribers", exact=True).click()
    audit(page)
    page.get_by_label("Address").fill("ana")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("link", name="anabel@example.org")).to_be_visible()
    page.get_by_label("Address").fill("ana@example.org")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("link", name="anabel@example.org")).to_have_count(0)
    audit(page)
    page.get_by_role("link", name="ana@example.org").click()
    expect(page.get_by_role("heading", name="ana@example.org")).to_be_visible()
    audit(page)
    page.get_by_role("button", name="Unsubscribe from Bike co-ops").click()
    confirm_in_dialog(
        page, "Unsubscribe ana@example.org from Bike co-ops?", "Unsubscribe from Bike co-ops"
    )
    expect(page.get_by_role("status").first).to_contain_text(
        "ana@example.org is unsubscribed from Bike co-ops."
    )
    expect(page.get_by_text("admin by sam@club.example.org")).to_be_visible()
    audit(page)
    assert statuses("ana@example.org") == {"bike-coops": ("unsubscribed", None)}
    assert statuses("anabel@example.org") == {"bike-coops": ("active", None)}


def test_admin_imports_20000_rows_and_watches_the_progress(page, smtp, run_jobs, tmp_path):
    make_account(ADMIN, role=Role.admin)
    with session_scope() as session:
        session.add(Topic(slug="food", name="Food co-ops"))
    rows = 20_000
    path = tmp_path / "members.csv"
    path.write_text(
        "email,first_name\n" + "".join(f"person{n}@example.org,P{n}\n" for n in range(rows))
    )
    log_in_by_mail(page, smtp, run_jobs, ADMIN)
    page.goto("/admin/import")
    audit(page)
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("checkbox", name="Food co-ops").check()
    with page.expect_navigation(timeout=60_000):  # a 700 KB upload on a shared machine
        page.get_by_role("button", name="Import and send confirmation requests").click(
            no_wait_after=True
        )
    expect(page.get_by_role("heading", name="Import of members.csv")).to_be_visible()
    expect(page.get_by_text("of 20,000 rows done")).to_be_visible()
    audit(page)
    url = page.url
    try:
        # The numbers move on their own (no reload), chunk after chunk.
        done = page.locator('[data-field="rows_done"]')
        expect(done).not_to_have_text("0", timeout=60_000)
        first = int(done.inner_text().replace(",", ""))
        expect(done).not_to_have_text(f"{first:,}", timeout=60_000)
        assert int(done.inner_text().replace(",", "")) > first
        assert page.url == url
        accepted = page.locator('[data-field="counts.accepted"]').inner_text()
        assert int(accepted.replace(",", "")) >= first
        audit(page)
    finally:
        # Stop the job here: the rest of the run does not need 20,000 more people.
        with session_scope() as session:
            for job in session.exec(select(ImportJob)).all():
                job.status = JobStatus.failed
                job.error = "stopped by the test"
