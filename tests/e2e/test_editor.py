"""The issue editor in a real browser: typing survives every block action, removing asks
in a dialog and can be undone, a booked slot stays put, a refused schedule keeps its
fields, and an issue can be duplicated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.db import utcnow
from app.marketplace.models import BookingStatus
from app.members.models import Role
from tests.e2e.conftest import PHONE, audit, confirm_in_dialog
from tests.marketplace.factories import make_booking, make_slots
from tests.members.factories import login_path, make_account, make_member

pytestmark = pytest.mark.browser


def test_editor_keeps_typing_across_block_actions_and_undoes_a_removal(page):
    issue, slots = make_slots(schedule=False)
    member = make_member("harbour-bakery", name="Harbour Bakery")
    make_booking(member, slots[0], upto=BookingStatus.paid)
    admin = make_account("sam@club.example.org", role=Role.admin)
    page.goto(login_path(admin, f"/admin/issues/{issue.id}"))
    audit(page)
    page.get_by_role("button", name="Log in").click()
    audit(page)

    subject = page.get_by_label("Subject", exact=True)
    third = page.locator("fieldset", has_text="Block 3 · Text")
    subject.fill("Typed, never saved by hand")
    third.get_by_label("Text").fill("A paragraph typed before moving things around.")

    # Moving another block saves what was typed with it.
    page.get_by_role("button", name="Move down block 4").click()
    audit(page)
    expect(subject).to_have_value("Typed, never saved by hand")
    expect(third.get_by_label("Text")).to_have_value(
        "A paragraph typed before moving things around."
    )
    subject.fill("Typed again")
    page.get_by_label("Add a block").select_option("button")
    page.get_by_role("button", name="Add block").click()
    audit(page)
    expect(subject).to_have_value("Typed again")
    expect(page.locator("fieldset", has_text="Block 6 · Button")).to_be_visible()

    # Removing asks; going back changes nothing; confirming removes; Undo puts it back.
    third.get_by_role("button", name="Remove block 3").click()
    page.get_by_role("dialog", name="Remove block 3 (text)?").get_by_role(
        "button", name="Go back"
    ).click()
    expect(third).to_be_visible()
    subject.fill("Typed before removing")
    third.get_by_role("button", name="Remove block 3").click()
    confirm_in_dialog(page, "Remove block 3 (text)?", "Remove block 3")
    expect(page.get_by_role("status").first).to_contain_text("Block 3 removed.")
    expect(page.locator("fieldset", has_text="Block 3 · Text")).to_have_count(0)
    expect(subject).to_have_value("Typed before removing")
    audit(page)
    page.get_by_role("button", name="Undo: put block 3 back").click()
    audit(page)
    expect(third.get_by_label("Text")).to_have_value(
        "A paragraph typed before moving things around."
    )

    # The booked sponsor slot stays where members bought it; removing it asks about them.
    sponsor = page.locator("fieldset", has_text="Block 2 · Sponsor slot")
    expect(sponsor).to_contain_text("Booked by Harbour Bakery")
    expect(sponsor.get_by_role("button", name="Move down block 2")).to_be_disabled()
    expect(third.get_by_role("button", name="Move up block 3")).to_be_disabled()
    sponsor.get_by_role("button", name="Remove block 2").click()
    question = page.get_by_role(
        "dialog", name="Cancel Harbour Bakery's booking and remove block 2?"
    )
    expect(question).to_contain_text("The payment is refunded the way it was made.")
    audit(page)
    question.get_by_role("button", name="Go back").click()

    # A time in the past is refused, with the date and timezone still filled in.
    past = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Date and time").fill(past)
    page.get_by_label("Timezone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Schedule and freeze").click()
    audit(page)
    expect(page.locator("#e-when")).to_contain_text("already passed")
    expect(page.get_by_label("Date and time")).to_have_value(past)
    expect(page.get_by_label("Timezone")).to_have_value("Europe/Berlin")

    page.set_viewport_size(PHONE)
    audit(page)
    page.get_by_role("button", name="Duplicate this issue").click()
    expect(page.get_by_role("status").first).to_contain_text("a new draft copied from issue")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Typed before removing")
    audit(page)
