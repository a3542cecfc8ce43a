"""A newsletter's unsubscribe page follows the NEWSLETTER's language (issue 20:
"Newsletters have a language; their footers, unsubscribe pages and archive chrome follow
it"), not the subscriber's: a Spanish-speaking reader of a French newsletter who clicks
the link in the mail that arrived reads the page, and the page after unsubscribing, in
French. A link without a language (older mails, the preference centre) keeps the
subscriber's."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db import session_scope
from app.subscribers.models import Subscriber
from app.subscribers.service import unsubscribe_url
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people


def _speaking(email: str, language: str) -> Subscriber:
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        subscriber.language = language
        session.add(subscriber)
    return subscriber


def test_the_unsubscribe_page_speaks_the_newsletters_language(client, smtp, run_jobs):
    food = make_topic("food", "Food co-ops")
    people.active("lucia@example.org", [food])
    _speaking("lucia@example.org", "es")
    issue = make_issue(make_newsletter("lettre", topics=[food], language="fr"))
    run_jobs()
    smtp.clear()
    people.start_now(schedule_soon(issue))
    run_jobs()
    (mail,) = smtp.wait_for("lucia@example.org")
    link = re.search(r"http://testserver(/u/\S+)", mail.text()).group(1)
    assert link.endswith("?lang=fr")

    page = client.get(link)
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Se désabonner" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    assert action.replace("&amp;", "&") == link  # the answer speaks French too

    done = client.post(action, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert '<html lang="fr">' in done.text


def test_without_a_language_the_page_keeps_the_subscribers(client):
    food = make_topic("food", "Food co-ops")
    people.active("lucia@example.org", [food])
    subscriber = _speaking("lucia@example.org", "es")
    link = unsubscribe_url(subscriber, [food.id]).removeprefix("http://testserver")
    page = client.get(link)
    assert '<html lang="es">' in page.text
    # The reader's own choice with the switcher still comes first.
    client.cookies.set("coopclub_lang", "en")
    assert '<html lang="en">' in client.get(link + "?lang=fr").text
