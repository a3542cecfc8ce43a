"""French and Spanish readers in a real browser (Chromium with locale fr-CA or es): the
signup page, the confirmation email that arrives, the confirmation, the receipt, and the
language changed in the preference centre; every page axe-clean and without sideways
scrolling at desktop width and on a 390 px phone (French and Spanish run longer)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import after_test, audit, link_from_mail, tracked
from tests.subscribers.helpers import make_topics

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}

WORDS = {
    "fr-CA": {
        "lang": "fr",
        "choose": "Choisissez vos thèmes",
        "email": "Adresse courriel",
        "subscribe": "S’abonner",
        "inbox": "Consultez votre boîte de réception",
        "subject": "Veuillez confirmer votre abonnement",
        "consent": "Je veux recevoir les infolettres du Co-op Data Club",
        "confirm": "Confirmer",
        "subscribed": "Votre abonnement est confirmé",
        "receipt": "Télécharger votre reçu de consentement",
        "manage": "Gérer vos thèmes et vos données",
        "preferences": "Vos préférences",
        "mail_language": "Langue de nos courriels",
        "save": "Enregistrer mes choix",
    },
    "es": {
        "lang": "es",
        "choose": "Elige tus temas",
        "email": "Correo electrónico",
        "subscribe": "Suscribirse",
        "inbox": "Revisa tu bandeja de entrada",
        "subject": "Confirma tu suscripción, por favor",
        "consent": "Quiero recibir los boletines del Co-op Data Club",
        "confirm": "Confirmar",
        "subscribed": "Tu suscripción está confirmada",
        "receipt": "Descarga tu recibo de consentimiento",
        "manage": "Gestionar tus temas y tus datos",
        "preferences": "Tus preferencias",
        "mail_language": "Idioma de nuestros correos",
        "save": "Guardar mis preferencias",
    },
}


@pytest.fixture
def reader(chromium, base_url, request):
    """A page in a browser whose language is the test's locale, at the test's width."""
    locale, viewport = request.param
    ctx = chromium.new_context(
        base_url=base_url, viewport=viewport, locale=locale, accept_downloads=True
    )
    ctx.set_default_timeout(10_000)
    page = tracked(ctx.new_page())
    page.locale = locale  # type: ignore[attr-defined]
    yield page
    after_test(page, request)
    ctx.close()


@pytest.mark.parametrize(
    "reader",
    [("fr-CA", {"width": 1280, "height": 900}), ("es", PHONE_390)],
    indirect=True,
    ids=["fr-CA-desktop", "es-phone"],
)
def test_a_reader_subscribes_confirms_and_changes_language_in_theirs(reader, smtp, run_jobs):
    page = reader
    words = WORDS[page.locale]
    address = f"reader-{words['lang']}@example.org"
    make_topics()
    page.goto("/subscribe")
    expect(page.locator("html")).to_have_attribute("lang", words["lang"])
    expect(page.get_by_role("heading", name=words["choose"])).to_be_visible()
    audit(page)
    page.get_by_label(words["email"]).fill(address)
    page.get_by_role("checkbox", name="Food co-ops").check()
    page.wait_for_timeout(2_100)  # a person takes a moment; faster forms are treated as bots
    page.get_by_role("button", name=words["subscribe"]).click()
    expect(page.get_by_role("heading", name=words["inbox"])).to_be_visible()
    audit(page)

    run_jobs()
    [mail] = smtp.wait_for(address)
    assert str(mail.message["Subject"]) == words["subject"]
    assert words["consent"] in mail.text()
    page.goto(link_from_mail(mail, r"/confirm/"))
    expect(page.locator("html")).to_have_attribute("lang", words["lang"])
    audit(page)
    page.get_by_role("button", name=words["confirm"], exact=True).click()
    expect(page.get_by_role("heading", name=words["subscribed"])).to_be_visible()
    audit(page)

    run_jobs()  # seals the confirmation into the consent log
    with page.expect_download() as download_info:
        page.get_by_role("link", name=words["receipt"]).click()
    receipt = json.loads(download_info.value.path().read_text())
    assert receipt["language"] == words["lang"]
    assert words["consent"] in receipt["services"][0]["purposes"][0]["consentText"]

    page.get_by_role("link", name=words["manage"]).click()
    expect(page.get_by_role("heading", name=words["preferences"])).to_be_visible()
    audit(page)
    page.get_by_label(words["mail_language"]).select_option("en")
    page.get_by_role("button", name=words["save"]).click()
    # Their saved language now says English: pages from their emails follow it (above
    # the browser's Accept-Language), and so does every email from now on.
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Language of our emails to you")).to_have_value("en")
    audit(page)


@pytest.mark.parametrize(
    "reader",
    [
        ("fr-CA", {"width": 1280, "height": 900}),
        ("fr-CA", PHONE_390),
        ("es", {"width": 1280, "height": 900}),
        ("es", PHONE_390),
    ],
    indirect=True,
    ids=["fr-desktop", "fr-phone", "es-desktop", "es-phone"],
)
def test_public_pages_fit_in_french_and_spanish(reader):
    page = reader
    make_topics()
    for path in ("/", "/topics", "/subscribe", "/privacy", "/login", "/no-such-page"):
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", WORDS[page.locale]["lang"])
        audit(page)
    # The switcher changes the page's language and keeps it.
    page.goto("/subscribe")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Choose your topics")).to_be_visible()
    audit(page)
    page.goto("/topics")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    audit(page)
