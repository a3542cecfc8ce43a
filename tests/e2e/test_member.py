"""A member co-op's owner in a real browser: log in by the emailed link, copy the signup
form, manage the team and API keys."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.members.models import Role
from tests.e2e.conftest import PHONE, audit, confirm_in_dialog, link_from_mail
from tests.members.factories import make_account, make_member
from tests.newsletters.factories import make_topic

pytestmark = pytest.mark.browser

OWNER = "amara@riverside.example.org"


def log_in_by_mail(page, smtp, run_jobs, address: str) -> None:
    """What a person does: ask for a link, open it from the email, press Log in."""
    page.goto("/login")
    audit(page)
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Email me a login link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    audit(page)
    run_jobs()
    [mail] = smtp.wait_for(address)
    page.goto(link_from_mail(mail, r"/login/"))
    audit(page)
    page.get_by_role("button", name="Log in").click()


def test_owner_logs_in_copies_the_signup_form_and_manages_team_and_keys(
    page, smtp, run_jobs, base_url
):
    member = make_member("riverside", name="Riverside Food Co-op")
    make_account(OWNER, role=Role.owner, member=member)
    make_topic("food", "Food co-ops")

    log_in_by_mail(page, smtp, run_jobs, OWNER)
    expect(page.get_by_role("heading", name="Riverside Food Co-op", level=1)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("logged in")
    audit(page)

    # The embed snippet, copied the way a person would: the Copy button.
    page.get_by_role("button", name="Copy the form snippet").click()
    expect(page.locator("#embed-form-status")).to_have_text("Copied to your clipboard.")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert f'action="{base_url}/subscribe/embed/riverside"' in copied
    assert copied == page.locator("#embed-form").text_content()

    # Adding a teammate: a mistake is marked on the field, then it works.
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Add and email them").click()
    audit(page)
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Email address").fill("jon@riverside.example.org")
    page.get_by_role("textbox", name="Name Optional.", exact=True).fill("Jon Tremblay")
    page.get_by_role("button", name="Add and email them").click()
    expect(page.get_by_role("status").first).to_contain_text("jon@riverside.example.org")
    audit(page)
    expect(page.get_by_role("cell", name="Jon Tremblay")).to_be_visible()
    run_jobs()
    assert smtp.wait_for("jon@riverside.example.org")

    # An API key: named, shown once, then revoked.
    page.get_by_role("button", name="Create API key").click()
    audit(page)
    expect(page.locator("#key-name-error")).to_be_visible()
    page.get_by_label("New key's name").fill("Website signup")
    page.get_by_role("button", name="Create API key").click()
    audit(page)
    secret = page.locator("pre.secret").text_content().strip()
    assert len(secret) > 20
    page.get_by_role("row", name="Website signup").get_by_role("button", name="Revoke").click()
    confirm_in_dialog(page, "Revoke the key “Website signup”?", "Revoke the key")
    expect(page.get_by_role("status").first).to_contain_text("revoked")
    audit(page)
    expect(page.get_by_role("row", name="Website signup")).to_contain_text("revoked")

    page.set_viewport_size(PHONE)
    audit(page)
