"""The marketplace and sharing pages, their form errors and the API's errors for people
go through the catalogs: under the pseudo-locale nothing is left bare but data (names,
subjects, amounts, dates), and in French and Spanish a reader sees their own words."""

from __future__ import annotations

import re

import pytest

from app.db import session_scope
from app.marketplace.models import BookingStatus
from app.members.models import Role
from app.payments import credits
from tests.i18n.test_pseudo_locale import unwrapped
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_member, post_form

# The admin area's own navigation is worded by the admin pages' translators.
ADMIN_NAV = re.compile(r'<nav aria-label="Admin".*?</nav>', re.S)


NESTED = re.compile(r"⟦[^⟦⟧]*⟧")
# Data on these pages besides names: the amounts' currency, signs and arrows.
SIGNS = ("CAD", "UTC", "←", "+", "≤")


def shown(page) -> str:
    """The page without the admin navigation, messages inside messages (a count in a
    sentence) taken out innermost first."""
    assert page.status_code == 200, (page.status_code, page.text[:500])
    assert '<html lang="qps">' in page.text
    html = ADMIN_NAV.sub("", page.text)
    while (inner := NESTED.sub(" ", html)) != html:
        html = inner
    return html


def pseudo(client) -> None:
    """Under the pseudo-locale from now on (the login's flash is read in English first)."""
    client.get("/")
    client.cookies.set("coopclub_lang", "qps")


@pytest.fixture
def market():
    """A member with credits, an upcoming issue with its slots and a booking with a
    creative waiting for approval."""
    member = make_member("riverside", name="Riverside Bakery")
    issue, slots = make_slots()
    booking = make_booking(member, slots[0], upto=BookingStatus.creative_submitted)
    with session_scope() as session:
        credits.add(session, member_id=member.id, amount=1_200, reason="Recruited")
    return member, issue, slots, booking


def issue_data(issue) -> tuple[str, ...]:
    return (
        issue.subject,
        "Riverside Bakery",
        "The Co-op Commons",
        "Commons",
        *CREATIVE.values(),
        *SIGNS,
    )


def test_the_marketplace_pages_show_no_unwrapped_words(client, market):
    member, issue, slots, booking = market
    log_in(client, make_account("owner@riverside.example.org", member=member))
    held = make_booking(member, slots[1])
    pseudo(client)
    problems = {}
    for path in (
        "/member/slots",
        "/member/bookings",
        f"/member/bookings/{booking.id}",
        f"/member/bookings/{held.id}",
    ):
        left = unwrapped(shown(client.get(path)), *issue_data(issue), "Recruited")
        if left:
            problems[path] = left
    assert not problems, problems


def test_the_marketplace_admin_pages_show_no_unwrapped_words(client, market):
    _member, issue, _slots, booking = market
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    pseudo(client)
    problems = {}
    for path in ("/admin/marketplace", f"/admin/marketplace/bookings/{booking.id}"):
        left = unwrapped(shown(client.get(path)), *issue_data(issue))
        if left:
            problems[path] = left
    assert not problems, problems


def test_a_booking_reads_in_french_with_the_amount_the_french_way(client, market):
    member, _issue, _slots, booking = market
    log_in(client, make_account("owner@riverside.example.org", member=member))
    page = client.get(f"/member/bookings/{booking.id}", headers={"Accept-Language": "fr-CA"})
    assert '<html lang="fr">' in page.text
    for words in ("Vos réservations", f"Réservation nº {booking.id}", "annonce en attente"):
        assert words in page.text, words
    assert "250,00 CAD" in page.text  # format_currency in the booking's currency
    listing = client.get("/member/bookings", headers={"Accept-Language": "fr"}).text
    assert "Solde : <strong>1\u202f200</strong> crédits." in listing


def test_a_creatives_problem_is_told_in_spanish(client, market):
    member, _issue, slots, _booking = market
    log_in(client, make_account("owner@riverside.example.org", member=member))
    booking = make_booking(member, slots[1], upto=BookingStatus.paid)
    client.cookies.set("coopclub_lang", "es")
    page = post_form(
        client,
        f"/member/bookings/{booking.id}/creative",
        {**CREATIVE, "link": "http://riverside.example.org", "action": "submit"},
    )
    assert page.status_code == 422
    assert "el enlace: usa una dirección https:// completa" in page.text
    assert "Titular" in page.text and "Enviar para aprobación" in page.text
