"""A signup in French is French all the way: the confirmation email (read from the mail
that arrived), the confirmation page, the receipt and the ledger, which records the French
text version that was shown. The API takes the same `language`, validated."""

from __future__ import annotations

import re

from sqlmodel import col, select

from app.consent.log import log_verifier
from app.consent.logverify import verify_receipt as verify_receipt_offline
from app.consent.models import ConsentAction, ConsentEvent, ConsentText
from app.consent.texts import CONSENT_WORDING
from app.db import session_scope
from app.subscribers.models import Subscriber
from tests.i18n.test_language_choice import heading, html_lang
from tests.subscribers.helpers import confirm_link, hosted_form, link_in, make_topics
from tests.subscribers.test_signup import link_in_page

FRENCH_TOPIC_WORDS = CONSENT_WORDING["fr"]


def test_a_french_signup_is_french_from_the_form_to_the_ledger(client, smtp, run_jobs):
    make_topics()
    form = client.get("/subscribe", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert html_lang(form.text) == "fr" and heading(form.text) == "Choisissez vos thèmes"
    assert 'name="language" value="fr"' in form.text
    topic_words = FRENCH_TOPIC_WORDS[_scope("topic")]
    assert topic_words.replace("’", "&#39;")[:40] in form.text or topic_words[:40] in form.text
    fields = hosted_form(client, email="ines@example.org", first_name="Inès")
    fields["language"] = "fr"
    done = client.post("/subscribe", data=fields, headers={"Accept-Language": "fr"})
    assert "Consultez votre boîte de réception" in done.text

    run_jobs()
    (mail,) = smtp.wait_for("ines@example.org")
    assert str(mail.message["Subject"]) == "Veuillez confirmer votre abonnement"
    assert '<html lang="fr"' in mail.html()
    text = mail.text()
    assert "Bonjour Inès," in text and "Quelqu’un, vous sans doute" in text
    assert "Je veux recevoir les infolettres du Co-op Data Club" in text
    assert "Hello" not in text and "Please confirm" not in text

    # The confirmation link opens in French even for a browser that asks for English.
    url = link_in(mail, "confirm")
    page = client.get(url, headers={"Accept-Language": "en"})
    assert html_lang(page.text) == "fr" and heading(page.text) == "Confirmez votre abonnement"
    confirmed = confirm_link(client, url)
    assert heading(confirmed.text) == "Votre abonnement est confirmé"

    with session_scope() as session:
        ines = session.exec(select(Subscriber).where(Subscriber.email == "ines@example.org")).one()
        assert ines.language == "fr"
        events = session.exec(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_key == ines.key)
            .order_by(col(ConsentEvent.id))
        ).all()
        assert [e.action for e in events] == [ConsentAction.requested, ConsentAction.confirmed]
        # The request and its confirmation: the same French version.
        (text_id,) = {e.consent_text_id for e in events}
        text_row = session.get(ConsentText, text_id)
        assert text_row.language == "fr" and text_row.body == topic_words
        version = text_row.version
    assert f"version {version}" in mail.text()

    run_jobs()  # seals the confirmation into the consent log
    receipt = client.get(link_in_page(confirmed.text, "receipts")).json()
    assert receipt["language"] == "fr"
    (purpose,) = receipt["services"][0]["purposes"]
    assert purpose["consentTextLanguage"] == "fr" and purpose["consentText"] == topic_words
    assert purpose["consentTextVersion"] == version
    assert purpose["purpose"] == "Infolettres sur le thème «\u00a0Food co-ops\u00a0»"
    # The receipt checks out online and offline, whatever the language of its words.
    verdict = client.post("/api/v1/receipts/verify", json=receipt).json()
    assert verdict["genuine"] is True
    assert verify_receipt_offline(receipt, log_verifier())


def test_the_ledger_verifies_with_texts_in_three_languages(client, smtp, run_jobs):
    make_topics()
    for language, email in (
        ("en", "a@example.org"),
        ("fr", "b@example.org"),
        ("es", "c@example.org"),
    ):
        client.post(
            "/api/v1/subscribe", json={"email": email, "topics": ["food"], "language": language}
        )
    run_jobs()
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        (mail,) = smtp.wait_for(email)
        confirm_link(client, link_in(mail, "confirm"))
    run_jobs()
    with session_scope() as session:
        texts = session.exec(select(ConsentText).where(ConsentText.scope == _scope("topic"))).all()
        assert sorted(t.language for t in texts) == ["en", "es", "fr"]
        # Versions are numbered per scope across languages, never reused.
        assert sorted(t.version for t in texts) == [1, 2, 3]
    from click.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(cli, ["consent", "verify"])
    assert result.exit_code == 0, result.output


def test_the_api_takes_a_bcp47_language_and_refuses_others(client, smtp, run_jobs):
    make_topics()
    ok = client.post(
        "/api/v1/subscribe",
        json={"email": "mx@example.org", "topics": ["food"], "language": "es-MX"},
    )
    assert ok.status_code == 202
    run_jobs()
    (mail,) = smtp.wait_for("mx@example.org")
    assert str(mail.message["Subject"]) == "Confirma tu suscripción, por favor"
    assert "Hola:" in mail.text() and "Quiero recibir los boletines" in mail.text()
    for bad, words in (("de", "we do not write in"), ("not a tag!", "not a language tag")):
        refused = client.post(
            "/api/v1/subscribe",
            json={"email": "x@example.org", "topics": ["food"], "language": bad},
        )
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert problem["field"] == "language" and words in problem["message"]


def _scope(name: str):
    from app.consent.models import ConsentScope

    return ConsentScope(name)


def test_emails_in_each_language_say_so(client, smtp, run_jobs):
    make_topics()
    for language in ("en", "fr", "es"):
        email = f"{language}@example.org"
        client.post(
            "/api/v1/subscribe", json={"email": email, "topics": ["food"], "language": language}
        )
    run_jobs()
    for language, hello in (("en", "Hello,"), ("fr", "Bonjour,"), ("es", "Hola:")):
        (mail,) = smtp.wait_for(f"{language}@example.org")
        assert re.search(rf'<html lang="{language}"', mail.html())
        assert mail.text().startswith(hello)
        # Gmail clips messages past 102 KB: every language stays well within it.
        assert len(mail.raw) < 102 * 1024


def test_a_members_embedded_form_takes_a_lang(client, smtp, run_jobs):
    from app.subscribers import embed
    from tests.subscribers.helpers import form_token

    make_topics()
    token = form_token("riverside", ["food"])
    with session_scope() as session:
        form = embed.read_form_token(session, token, member_slug="riverside")
        snippets = embed.embed_snippets(form, "fr")
    assert 'name="language" value="fr"' in snippets["form"]
    assert "Je veux recevoir les infolettres" in snippets["form"]
    assert "Abonnez-vous à <strong>Food co-ops</strong>" in snippets["form"]
    assert "&amp;lang=fr" in snippets["iframe"]
    # The iframe page is in the snippet's language, whatever the browser asks for.
    frame = client.get(
        f"/subscribe/embed/riverside?form_token={token}&lang=es",
        headers={"Accept-Language": "en"},
    )
    assert html_lang(frame.text) == "es" and "Suscribirse" in frame.text
    # The plain form, posted from the member's site, signs the reader up in French.
    posted = client.post(
        "/subscribe/embed/riverside",
        data={
            "form_token": token,
            "language": "fr",
            "email": "zoe@example.org",
            "topics": ["food"],
        },
    )
    assert posted.status_code == 200 and html_lang(posted.text) == "fr"
    run_jobs()
    (mail,) = smtp.wait_for("zoe@example.org")
    assert str(mail.message["Subject"]) == "Veuillez confirmer votre abonnement"


def test_the_apis_problems_are_in_the_callers_language(client):
    make_topics()
    refused = client.post(
        "/api/v1/subscribe",
        json={"email": "x@example.org", "topics": ["nope"]},
        headers={"Accept-Language": "es"},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == [{"field": "topics", "message": "tema desconocido: nope"}]
