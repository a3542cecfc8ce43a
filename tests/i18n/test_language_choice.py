"""Which language a page is in: the switcher's cookie, then the subscriber's saved language
on the pages their emails link to, then Accept-Language, then the Club's default. The
`lang` attribute says which one was used."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db import session_scope
from app.subscribers.models import Subscriber
from app.subscribers.service import preferences_token
from tests.subscribers.helpers import confirm_from_mail, hosted_form, make_topics


def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no lang attribute on <html>"
    return match.group(1)


def heading(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match
    return match.group(1).strip()


def subscribed(client, smtp, run_jobs, email: str, language: str | None = None) -> str:
    """A confirmed subscriber (with `language` saved, if given): their preferences token."""
    make_topics()
    client.post("/subscribe", data=hosted_form(client, email=email))
    confirm_from_mail(client, smtp, email, run_jobs)
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        if language:
            subscriber.language = language
            session.add(subscriber)
        return preferences_token(subscriber)


def test_accept_language_picks_the_page_language(client):
    for header, lang, words in [
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr", "Des infolettres de l’économie coopérative"),
        ("es-MX", "es", "Boletines de la economía cooperativa"),
        ("de-DE,es;q=0.5,fr;q=0.7", "fr", "Des infolettres"),  # by weight, not by order
        ("de, *;q=0.5", "en", "Newsletters from the co-operative economy"),
        ("", "en", "Newsletters from the co-operative economy"),
    ]:
        page = client.get("/", headers={"Accept-Language": header})
        assert page.status_code == 200
        assert html_lang(page.text) == lang, header
        assert page.headers["content-language"] == lang
        assert words in heading(page.text), header


def test_the_switcher_is_kept_in_a_cookie_and_beats_accept_language(client):
    home = client.get("/subscribe", headers={"Accept-Language": "fr"})
    # Every public page offers the other languages, each named in itself.
    assert 'href="/language/es?next=/subscribe" hreflang="es" lang="es">Español</a>' in home.text
    switched = client.get("/language/es?next=/subscribe", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/subscribe"
    assert "coopclub_lang=es" in switched.headers["set-cookie"]
    page = client.get("/subscribe", headers={"Accept-Language": "fr"})
    assert html_lang(page.text) == "es" and heading(page.text) == "Elige tus temas"
    # Errors are in the chosen language too, in the page and in its message.
    missing = client.get("/subscribe/no-such-topic", headers={"Accept-Language": "fr"})
    assert missing.status_code == 404 and heading(missing.text) == "No encontramos esa página"
    # A message made by the handler (an API-style detail) is in that language as well.
    detail = client.get("/subscribe/no-such-topic", headers={"Accept": "application/json"})
    assert detail.json() == {"detail": "No existe ese tema."}


def test_the_switcher_refuses_unknown_languages_and_foreign_destinations(client):
    assert client.get("/language/de", follow_redirects=False).status_code == 404
    assert client.get("/language/FR", follow_redirects=False).status_code == 404
    away = client.get("/language/fr?next=//evil.example/", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/"


def test_pages_from_a_subscribers_email_use_their_saved_language(client, smtp, run_jobs):
    token = subscribed(client, smtp, run_jobs, "lea@example.org", language="fr")
    # A browser that asks for English still gets her French: she chose it.
    page = client.get(f"/preferences/{token}", headers={"Accept-Language": "en"})
    assert html_lang(page.text) == "fr" and heading(page.text) == "Vos préférences"
    # ...unless this reader picked a language with the switcher.
    client.get("/language/es")
    page = client.get(f"/preferences/{token}")
    assert html_lang(page.text) == "es" and heading(page.text) == "Tus preferencias"


def test_the_preference_centre_changes_the_language_of_their_emails(client, smtp, run_jobs):
    token = subscribed(client, smtp, run_jobs, "sam@example.org")
    page = client.get(f"/preferences/{token}")
    assert '<option value="en" lang="en" selected>English</option>' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    saved = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf, "action": "save", "topics": ["1"], "language": "es"},
    )
    assert saved.status_code == 200
    assert html_lang(saved.text) == "es" and "Tus preferencias están guardadas." in saved.text
    assert '<option value="es" lang="es" selected>Español</option>' in saved.text
    download = client.post(f"/preferences/{token}", data={"csrf_token": csrf, "action": "download"})
    assert download.json()["subscriber"]["language"] == "es"


def test_the_signup_forms_problems_are_in_the_pages_language(client):
    make_topics()
    fields = hosted_form(client, email="not-an-address", topics=[])
    fields["language"] = "es"
    page = client.post("/subscribe", data=fields)
    assert page.status_code == 422 and html_lang(page.text) == "es"
    assert "Eso no parece un correo electrónico" in page.text
    assert "elige al menos un tema" in page.text
    assert 'value="not-an-address"' in page.text  # the input is kept


def test_stopping_member_mailings_is_in_the_subscribers_language(client, smtp, run_jobs):
    token = subscribed(client, smtp, run_jobs, "ana@example.org", language="es")
    page = client.get(f"/sharing/stop/999/{token}", headers={"Accept-Language": "en"})
    assert html_lang(page.text) == "es"
    assert heading(page.text) == "Dejar de recibir los envíos de las cooperativas miembro"
    bad = client.get("/sharing/stop/999/not-a-token", headers={"Accept-Language": "fr"})
    assert bad.status_code == 400 and "Ce lien n’est pas valide." in bad.text


def test_a_login_link_asked_for_in_french_arrives_in_french(client, smtp, run_jobs):
    from tests.members.factories import make_account, make_member

    owner = make_account("owner@fromagerie.example", member=make_member("fromagerie"))
    page = client.get("/login", headers={"Accept-Language": "fr-CA"})
    assert heading(page.text) == "Se connecter"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(
        "/login",
        data={"email": owner.email, "csrf_token": csrf},
        headers={"Accept-Language": "fr-CA"},
    )
    run_jobs()
    (mail,) = smtp.wait_for(owner.email)
    assert str(mail.message["Subject"]) == "Votre lien de connexion à Co-op Data Club"
    assert "Il fonctionne une seule fois, pendant 15 minutes." in mail.text()


def test_the_archive_chrome_is_in_the_readers_language(client):
    from tests.newsletters.factories import make_issue, make_newsletter, make_topic, mark_sent

    newsletter = make_newsletter("commons", topics=[make_topic("food")])
    mark_sent(make_issue(newsletter, subject="Printemps"))
    index = client.get("/archive", headers={"Accept-Language": "fr"})
    assert heading(index.text) == "Archives des infolettres" and "(1 numéro)" in index.text
    page = client.get("/archive/commons", headers={"Accept-Language": "es"})
    assert "Número 1: Printemps" in page.text and "Canal Atom" in page.text
    # The date of the issue is written the Spanish way (e.g. "30 de noviembre de 2026").
    assert re.search(r"· \d{1,2} de [a-z]+ de \d{4}", page.text)


def test_a_newsletter_in_french_has_french_chrome_and_its_place_in_the_archive(client):
    from app.db import session_scope as scope
    from app.newsletters.models import Issue
    from app.newsletters.service import compile_for
    from tests.newsletters.factories import make_issue, make_newsletter, make_topic, mark_sent

    food = make_topic("food", "Food co-ops")
    english = make_newsletter("commons", topics=[food])
    french = make_newsletter("infolettre", topics=[food], name="L’Infolettre", language="fr")
    mark_sent(make_issue(english, subject="Spring"))
    issue = make_issue(french, subject="Printemps")
    with scope() as session:
        html, text = compile_for(session, session.get(Issue, issue.id))
    assert '<html lang="fr"' in html
    assert "Numéro 1" in text and "Gérer vos préférences" in text and "Se désabonner" in text
    mark_sent(issue)
    # The archive lists newsletters under their language, the reader's first.
    index = client.get("/archive", headers={"Accept-Language": "es"}).text
    assert index.index(">English</h2>") < index.index(">Français</h2>")
    index = client.get("/archive", headers={"Accept-Language": "fr"}).text
    assert index.index(">Français</h2>") < index.index(">English</h2>")
    assert index.index("L’Infolettre") < index.index("The Co-op Commons")
