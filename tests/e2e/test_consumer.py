"""A reader's whole path in a real browser: subscribe, confirm from the email, keep the
receipt, change topics, unsubscribe."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, audit, confirm_in_dialog, link_from_mail
from tests.subscribers.helpers import make_topics

pytestmark = pytest.mark.browser

READER = "reader@example.org"


def test_reader_subscribes_confirms_keeps_receipt_changes_topics_and_leaves(page, smtp, run_jobs):
    make_topics()
    page.goto("/")
    audit(page)
    page.get_by_role("link", name="Choose your topics").click()
    audit(page)

    # A mistake first: the form comes back with the field marked and the input kept.
    page.get_by_label("Email address").fill("reader@")
    page.get_by_role("checkbox", name="Food co-ops").check()
    page.wait_for_timeout(2_100)  # a person takes a moment; faster forms are treated as bots
    page.get_by_role("button", name="Subscribe").click()
    audit(page)
    email = page.get_by_label("Email address")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Food co-ops")).to_be_checked()

    email.fill(READER)
    page.get_by_label("First name").fill("Robin")
    page.wait_for_timeout(2_100)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    audit(page)

    run_jobs()
    [mail] = smtp.wait_for(READER)
    page.goto(link_from_mail(mail, r"/confirm/"))
    expect(page.get_by_role("listitem")).to_contain_text(["Food co-ops"])
    audit(page)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    audit(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download your consent receipt").click()
    receipt = json.loads(download_info.value.path().read_text())
    assert "Food co-ops" in json.dumps(receipt)

    page.get_by_role("link", name="Manage your topics and data").click()
    expect(page.get_by_role("heading", name="Your preferences")).to_be_visible()
    audit(page)
    expect(page.get_by_role("checkbox", name="Food co-ops", exact=True)).to_be_checked()
    page.get_by_role("checkbox", name="Housing", exact=True).check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    audit(page)

    run_jobs()
    # A new topic is double opt-in too: it waits for its own confirmation.
    expect(page.get_by_role("checkbox", name="Housing", exact=True)).to_be_visible()

    page.set_viewport_size(PHONE)
    audit(page)
    page.get_by_role("button", name="Unsubscribe from everything").click()
    confirm_in_dialog(page, "Unsubscribe from everything?", "Unsubscribe from everything")
    audit(page)
    expect(page.get_by_role("checkbox", name="Food co-ops", exact=True)).not_to_be_checked()
