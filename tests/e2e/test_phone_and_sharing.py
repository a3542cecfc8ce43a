"""A member owner on a phone (390 px): the Book, Accept and Revoke buttons of
/member/slots and /member/sharing are on screen without sideways scrolling (each table
row becomes a card); and the sharing form's mistakes come back marked, with the input
kept and long text wrapped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.db import utcnow
from tests.e2e.conftest import audit
from tests.marketplace.factories import make_slots
from tests.members.factories import login_path, make_account, make_member
from tests.sharing.helpers import agreement, owned_topic

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}


def on_screen(page, locator) -> None:
    """The control is visible and wholly inside the viewport's width."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0
    assert box["x"] + box["width"] <= page.viewport_size["width"], box


def test_member_actions_fit_a_phone_and_the_offer_form_explains_itself(page):
    orchard = make_member("orchard-coop", name="Orchard Co-op")
    bakery = make_member("bakery-coop", name="Bakery Co-op")
    make_member("harbour-coop", name="Harbour Co-op")
    topic = owned_topic("orchard-news", orchard)
    bakery_topic = owned_topic("bakery-news", bakery)
    agreement(orchard, bakery, topic)  # active: Orchard may revoke
    agreement(bakery, orchard, bakery_topic, accept=False)  # offered to Orchard: accept
    make_slots("commons", schedule=True)
    owner = make_account("owner@orchard.example.org", member=orchard)

    page.set_viewport_size(PHONE_390)
    page.goto(login_path(owner, "/member/slots"))
    audit(page)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Book a slot in an upcoming issue")).to_be_visible()
    audit(page)
    for button in page.get_by_role("button", name="Book").all():
        on_screen(page, button)
    page.screenshot(path=str(_shot("member-slots-390")))

    page.goto("/member/sharing")
    audit(page)
    on_screen(page, page.get_by_role("button", name="Accept the offer from Bakery Co-op"))
    for button in page.get_by_role("button", name="Revoke").all():
        on_screen(page, button)

    # Mistakes come back together, marked, with what was typed.
    page.get_by_label("Share with").select_option(label="Harbour Co-op")
    long_purpose = "A very long purpose that goes on " * 150
    page.get_by_label("In one sentence").fill(long_purpose)
    past = (utcnow() - timedelta(days=2)).date().isoformat()
    page.get_by_label("Last day").fill(past)
    page.get_by_role("button", name="Send the offer").click()
    audit(page)
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("Keep the purpose to 300 characters")
    expect(problems).to_contain_text("The last day must be in the future.")
    expect(page.get_by_label("In one sentence")).to_have_value(long_purpose)
    expect(page.get_by_label("Last day")).to_have_value(past)
    expect(page.get_by_label("Share with")).to_have_value("harbour-coop")
    page.screenshot(path=str(_shot("sharing-errors-390")), full_page=True)

    # Corrected, it is sent; offering the same audience again is refused with the reason.
    page.get_by_label("In one sentence").fill("Invitations to the harvest fair.")
    page.get_by_label("Last day").fill((utcnow() + timedelta(days=30)).date().isoformat())
    page.get_by_role("button", name="Send the offer").click()
    expect(page.get_by_role("status").first).to_contain_text("The offer is sent")
    audit(page)
    page.get_by_label("Share with").select_option(label="Harbour Co-op")
    page.get_by_label("In one sentence").fill("Again.")
    page.get_by_label("Last day").fill((utcnow() + timedelta(days=30)).date().isoformat())
    page.get_by_role("button", name="Send the offer").click()
    expect(page.get_by_role("alert")).to_contain_text("You already share this audience")
    audit(page)


def _shot(name: str):
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
