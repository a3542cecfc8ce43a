"""Issue 14, finding 4 (the pages): the one-click unsubscribe page and the preference
centre name only the person's own subscriptions, never a topic they did not choose."""

from sqlmodel import select

from app.db import session_scope
from app.subscribers.models import Subscriber
from app.subscribers.service import preferences_token, unsubscribe_token
from tests.subscribers.helpers import confirm_from_mail, make_topics


def _reader(client, smtp, run_jobs) -> tuple[Subscriber, dict[str, int]]:
    ids = make_topics()
    client.post("/api/v1/subscribe", json={"email": "p@example.org", "topics": ["food"]})
    confirm_from_mail(client, smtp, "p@example.org", run_jobs)
    with session_scope() as session:
        return session.exec(select(Subscriber)).one(), ids


def _lead(html: str) -> str:
    return html.split('<p class="lead">', 1)[1].split("</p>", 1)[0]


def test_the_unsubscribe_page_names_only_the_readers_own_topics(client, smtp, run_jobs):
    reader, ids = _reader(client, smtp, run_jobs)
    # A newsletter on two topics; the reader chose only one of them.
    token = unsubscribe_token(reader, [ids["food"], ids["housing"]])
    page = client.get(f"/u/{token}")
    assert "Food co-ops" in _lead(page.text) and "Housing" not in page.text
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert "Food co-ops" in _lead(done.text) and "Housing" not in done.text
    everything = client.get(f"/u/{unsubscribe_token(reader, None)}")
    assert "Housing" not in everything.text and "Riverside news" not in everything.text


def test_the_preference_centre_lists_only_the_readers_own_subscriptions(client, smtp, run_jobs):
    reader, _ = _reader(client, smtp, run_jobs)
    page = client.get(f"/preferences/{preferences_token(reader)}").text
    yours = page.split("<legend>Your topics</legend>", 1)[1].split("</fieldset>", 1)[0]
    assert "Food co-ops" in yours and "Housing" not in yours
    others = page.split("<legend>Other topics you can join</legend>", 1)[1].split("</fieldset>")[0]
    assert "Housing" in others and "Food co-ops" not in others
