"""The member directory in Chromium: a visitor searches and pages it on a desktop and a
phone; an owner fills in the profile (problems marked, input kept) and chooses what is
public; the embed snippet, pasted into a page on another loopback origin, shows a
filtered directory that fits its content, takes that page's light or dark look, and is
axe-core clean inside and out (issue 21)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.members.models import Role
from tests.e2e.browser import PHONE
from tests.e2e.conftest import audit, axe_violations
from tests.e2e.test_embed_snippets import member_site  # noqa: F401 (fixture)
from tests.e2e.test_member import log_in_by_mail
from tests.members.factories import make_account, make_member

pytestmark = pytest.mark.browser

OWNER = "owner@riverside.example.org"
FRAME = "iframe[data-coopclub-directory]"
SHOWN = dict(show_country=True, show_city=True, show_sectors=True, show_offer=True)


def seed() -> None:
    make_member(
        "harbour-bakery",
        name="Harbour Bakery Workers' Co-op",
        kind="worker",
        country="CA",
        region="CA-QC",
        city="Montréal",
        sectors=",food,",
        offer="Bread for your events, delivered by bike.",
        description="Eleven bakers, one oven, and bread on the table by six.",
        **SHOWN,
    )
    make_member(
        "velo-coursiers",
        name="Vélo Coursiers",
        kind="worker",
        country="CA",
        region="CA-QC",
        city="Québec",
        sectors=",transport,",
        **SHOWN,
    )
    make_member(
        "maple-housing",
        name="Maple Street Housing",
        kind="housing",
        country="CA",
        region="CA-BC",
        **SHOWN,
    )
    for i in range(30):
        make_member(f"bulk-{i:02d}", name=f"Bulk Co-op {i:02d}", kind="consumer")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_visitor_searches_filters_and_pages_the_directory(page, viewport):
    seed()
    if viewport == "phone":
        page.set_viewport_size(PHONE)
    page.goto("/members")
    audit(page)
    expect(page.get_by_role("link", name="Next page")).to_be_visible()
    page.get_by_role("link", name="Next page").click()
    audit(page)
    expect(page.get_by_role("link", name="First page")).to_be_visible()
    page.get_by_label("Kind of co-op").select_option("worker")
    page.get_by_label("Region").select_option("CA-QC")
    page.get_by_role("button", name="Search").click()
    audit(page)
    cards = page.locator(".directory-cards h2")
    expect(cards).to_have_text(["Harbour Bakery Workers' Co-op", "Vélo Coursiers"])
    page.get_by_label("Search").fill("bread")
    page.get_by_role("button", name="Search").click()
    audit(page)
    expect(cards).to_have_text(["Harbour Bakery Workers' Co-op"])
    page.get_by_label("Search").fill("100%_")
    page.get_by_role("button", name="Search").click()
    audit(page)
    expect(page.get_by_text("No member co-op matches this search.")).to_be_visible()
    page.goto("/members/harbour-bakery")
    audit(page)
    expect(page.get_by_role("heading", name="Harbour Bakery Workers' Co-op")).to_be_visible()
    expect(page.get_by_text("Montréal, Quebec, Canada")).to_be_visible()


def test_the_owner_fills_in_the_profile_with_problems_marked_and_input_kept(page, smtp, run_jobs):
    coop = make_member("riverside", name="Riverside Food Co-op")
    make_account(OWNER, role=Role.owner, member=coop)
    log_in_by_mail(page, smtp, run_jobs, OWNER)
    audit(page)
    page.goto("/member/profile")
    audit(page)
    page.locator("#country").select_option("CA")
    page.locator("#region").fill("Atlantis")
    page.locator("#founded_year").fill("19x8")
    page.locator("#languages").fill("en, klingon!")
    page.locator("#city").fill("Toronto")
    page.get_by_label("Show the city in the public directory").check()
    page.get_by_role("button", name="Save").click()
    audit(page)
    problems = page.locator("#profile-problems")
    expect(problems).to_contain_text("Please correct these 3 things")
    expect(page.locator("#region")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#city")).to_have_value("Toronto")
    expect(page.get_by_label("Show the city in the public directory")).to_be_checked()
    page.locator("#region").fill("Ontario")
    page.locator("#founded_year").fill("1978")
    page.locator("#languages").fill("en, fr-ca")
    page.get_by_role("checkbox", name="Food and groceries").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your co-op's profile is saved.")).to_be_visible()
    audit(page)
    page.goto("/member/profile")
    audit(page)
    expect(page.locator("#languages")).to_have_value("en, fr-CA")
    expect(page.get_by_role("cell", name="City", exact=True)).to_be_visible()
    page.goto("/members/riverside")
    audit(page)
    expect(page.get_by_text("Toronto")).to_be_visible()
    expect(page.get_by_text("1978")).to_have_count(0)  # the year was not made public


@pytest.mark.parametrize("background", ["#111820", "#ffffff"])
def test_the_embed_snippet_works_on_another_origin_and_takes_its_look(
    page,
    other_page,
    member_site,  # noqa: F811
    background,
):
    seed()
    site_url, site_dir = member_site
    page.goto("/members/embed")
    audit(page)
    page.get_by_label("Kind of co-op").select_option("worker")
    page.get_by_label("Region").select_option("CA-QC")
    page.get_by_role("button", name="Make the snippet").click()
    audit(page)
    snippet = page.locator("#directory-snippet").inner_text()
    assert "kind=worker" in snippet and "region=CA-QC" in snippet
    (site_dir / "index.html").write_text(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Quebec worker co-ops</title></head>
<body style="background:{background};color:{"#eee" if background != "#ffffff" else "#111"}">
<main><h1>Worker co-ops near us</h1>{snippet}</main></body></html>""",
        encoding="utf-8",
    )
    visitor = other_page
    visitor.goto(site_url)
    audit(visitor)
    visitor.wait_for_function(
        "(s) => document.querySelector(s).style.height.endsWith('px')", arg=FRAME
    )
    frame = next(f for f in visitor.frames if "/members/embed/view" in f.url)
    theme = "dark" if background != "#ffffff" else "light"
    frame.wait_for_function(f"() => document.documentElement.dataset.theme === '{theme}'")
    inside = visitor.frame_locator(FRAME)
    expect(inside.locator(".directory-cards h2")).to_have_text(
        ["Harbour Bakery Workers' Co-op", "Vélo Coursiers"]
    )
    height = inside.locator("html").evaluate("el => Math.ceil(el.getBoundingClientRect().height)")
    visitor.wait_for_function(
        "([s, h]) => Math.abs(document.querySelector(s).clientHeight - h) <= 1",
        arg=[FRAME, height],
    )
    assert not axe_violations(frame), axe_violations(frame)
    inside.get_by_label("Search these co-ops").fill("bread")
    inside.get_by_role("button", name="Search").click()
    expect(inside.locator(".directory-cards h2")).to_have_text(["Harbour Bakery Workers' Co-op"])
    frame = next(f for f in visitor.frames if "/members/embed/view" in f.url)
    assert "kind=worker" in frame.url and "region=CA-QC" in frame.url
    assert not axe_violations(frame), axe_violations(frame)
    # Only the view is frameable: the directory itself refuses to be framed.
    headers = page.request.get("/members").headers
    assert headers["x-frame-options"] == "DENY"
    assert (
        "frame-ancestors *"
        in page.request.get("/members/embed/view").headers["content-security-policy"]
    )


def test_a_visitor_suggests_a_correction_on_a_phone(page):
    seed()
    page.set_viewport_size(PHONE)
    page.goto("/members/harbour-bakery")
    audit(page)
    page.get_by_role("link", name="Suggest a correction").click()
    audit(page)
    page.get_by_label("What is wrong or missing?").select_option("founded_year")
    page.locator("#value").fill("long ago")
    page.get_by_role("button", name="Send the suggestion").click()
    audit(page)
    expect(page.locator("#value")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#value")).to_have_value("long ago")
    page.locator("#value").fill("1998")
    page.get_by_role("button", name="Send the suggestion").click()
    audit(page)
    expect(page.get_by_text("owners will get your suggestion by email")).to_be_visible()
