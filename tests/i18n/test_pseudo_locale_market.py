"""The marketplace and sharing pages, their form errors and the API's errors for people
go through the catalogs: under the pseudo-locale nothing is left bare but data (names,
subjects, amounts, dates), and in French and Spanish a reader sees their own words."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.db import session_scope
from app.marketplace.models import BookingStatus
from app.members.models import Role
from app.payments import credits
from app.sharing import mailings
from app.subscribers.models import Subscriber
from tests.i18n.test_pseudo_locale import unwrapped
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import log_in, make_account, make_key, make_member, post_form
from tests.sharing.helpers import agreement, approve, owned_topic, person, submitted_mailing

# The admin area's own navigation is worded by the admin pages' translators.
ADMIN_NAV = re.compile(r'<nav aria-label="Admin".*?</nav>', re.S)


NESTED = re.compile(r"⟦[^⟦⟧]*⟧")
# Dates are data, written by Babel (the pseudo-locale formats them in English).
DATES = re.compile(r"\b[A-Z][a-z]{2} \d{1,2}, \d{4}(, \d{1,2}:\d{2}:\d{2}\s[AP]M)?")
# Data on these pages besides names: the amounts' currency, signs and arrows.
SIGNS = ("CAD", "UTC", "←", "+", "≤")


def shown(page, status: int = 200) -> str:
    """The page without the admin navigation, messages inside messages (a count in a
    sentence) taken out innermost first."""
    assert page.status_code == status, (page.status_code, page.text[:500])
    assert '<html lang="qps">' in page.text
    html = DATES.sub(" ", ADMIN_NAV.sub("", page.text))
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


@pytest.fixture
def sharing():
    """Two member co-ops with an active agreement, a reader who allowed sharing, and a
    mailing of the receiving co-op waiting for the Club's review."""
    orchard = make_member("orchard-coop", name="Orchard Coop")
    bakery = make_member("bakery-coop", name="Bakery Coop")
    orchard_news = owned_topic("orchard-news", orchard)
    person("shared@example.org", [orchard_news], sharing=True)
    agreement(orchard, bakery, orchard_news)
    return orchard, bakery, submitted_mailing(bakery)


SHARING_DATA = (
    "Orchard Coop",
    "Bakery Coop",
    "Orchard News",
    "News from us",
    "Hello from our co-op.",
    "Offers from a sister co-op.",
    *SIGNS,
)


def test_the_sharing_pages_show_no_unwrapped_words(client, sharing):
    orchard, bakery, mailing = sharing
    log_in(client, make_account("owner@bakery.example.org", member=bakery))
    pseudo(client)
    post_form(client, "/member/mailings", {"subject": "Draft from us"})
    problems = {}
    with session_scope() as session:
        drafts = mailings.list_for(session, bakery.id)
    pages = {f"/member/mailings/{m.id}": None for m, _issue in drafts}
    pages |= {"/member/sharing": None, "/member/mailings": None}
    for path in pages:
        left = unwrapped(shown(client.get(path)), *SHARING_DATA, "Draft from us")
        if left:
            problems[path] = left
    # The offer form with every problem shown at once.
    offer = post_form(client, "/member/sharing", {"receiver": "", "purpose_category": "x"})
    assert offer.status_code == 422
    left = unwrapped(shown(offer, status=422), *SHARING_DATA)
    if left:
        problems["offer form"] = left
    assert not problems, problems


def test_the_mailing_approval_page_shows_no_unwrapped_words(client, sharing):
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    pseudo(client)
    left = unwrapped(shown(client.get("/admin/mailings")), *SHARING_DATA)
    assert not left, left


def test_an_offers_problems_are_told_in_spanish(client, sharing):
    _orchard, bakery, _mailing = sharing
    log_in(client, make_account("owner@bakery.example.org", member=bakery))
    client.cookies.set("coopclub_lang", "es")
    page = post_form(client, "/member/sharing", {"receiver": "", "ends_on": "2001-01-01"})
    assert page.status_code == 422
    for words in (
        "La oferta no se envió. Corrige lo siguiente:",
        "Elige de la lista la cooperativa miembro con la que compartir.",
        "El último día debe ser futuro.",
        "Tus acuerdos de intercambio",
    ):
        assert words in page.text, words


def test_a_shared_readers_footer_reason_is_in_their_language(sharing, smtp, run_jobs):
    """The reader reached through sharing reads the reason in French (the newsletter's
    own readers keep its language: tests/sending/test_footer_reasons.py)."""
    _orchard, _bakery, mailing = sharing
    with session_scope() as session:
        reader = session.exec(select(Subscriber).where(Subscriber.email == "shared@example.org"))
        reader.one().language = "fr"
    run_jobs()
    smtp.clear()
    approve(mailing)
    run_jobs()
    (french,) = smtp.wait_for("shared@example.org")
    assert (
        "Vous recevez cet envoi de Bakery Coop parce que vous avez autorisé Co-op Data Club à"
        " vous envoyer des offres de coopératives membres sur Orchard News."
    ) in french.text().replace("\n", " ")
    assert "because you" not in french.text()


def test_the_marketplace_api_answers_people_in_their_language(client, market):
    """The status codes and fields stay; the words follow Accept-Language."""
    member, _issue, slots, booking = market
    _key_id, secret = make_key(member)
    key = {"Authorization": f"Bearer {secret}"}
    french = {**key, "Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}
    taken = client.post("/api/v1/bookings", json={"slot_id": slots[0].id}, headers=french)
    assert taken.status_code == 409
    assert taken.json()["detail"] == "cet encart est déjà réservé par une autre coopérative"
    invalid = client.post("/api/v1/bookings", json={"slot_id": 0}, headers=french)
    assert invalid.status_code == 422
    assert invalid.json()["detail"] == [
        {"field": "slot_id", "message": "Indiquez un nombre d’au moins 1."}
    ]
    keyless = client.get("/api/v1/slots", headers={"Accept-Language": "es"})
    assert keyless.status_code == 401
    assert keyless.json()["detail"].startswith("Envía la clave de API de tu cooperativa")
    english = client.get(f"/api/v1/bookings/{booking.id + 100}", headers=key)
    assert english.status_code == 404 and english.json()["detail"] == "no such booking"
