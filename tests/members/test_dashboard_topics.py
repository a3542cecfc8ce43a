"""The member dashboard lists the member's own topics with subscriber counts."""

import html

from app.db import session_scope
from app.subscribers.models import Topic
from tests.members.factories import log_in, make_account, make_member
from tests.sending import factories as people


def test_dashboard_shows_own_topics_with_counts(client):
    riverside, other = make_member("riverside"), make_member("northwind")
    with session_scope() as session:
        mine = Topic(slug="riverside-deals", name="Riverside deals", member_id=riverside.id)
        theirs = Topic(slug="wind-news", name="Wind news", member_id=other.id)
        session.add_all([mine, theirs])
    people.active("a@example.org", [mine])
    people.active("b@example.org", [mine])
    people.pending("c@example.org", [mine])
    log_in(client, make_account("staff@riverside.example.org", member=riverside))
    page = client.get("/member").text
    section = page.split('id="topics-heading"', 1)[1].split("</section>", 1)[0]
    assert "Riverside deals" in section and "<td>2</td><td>1</td>" in section
    assert "Wind news" not in page


def test_the_signup_snippets_speak_the_page_language_or_the_one_chosen(client):
    """A French-speaking member gets a French form to paste; it can ask for another."""
    riverside = make_member("riverside")
    with session_scope() as session:
        session.add(Topic(slug="riverside-deals", name="Riverside deals", member_id=riverside.id))
    log_in(client, make_account("staff@riverside.example.org", member=riverside))
    french = client.get("/member", headers={"Accept-Language": "fr-CA"}).text
    assert 'name="language" value="fr"' in html.unescape(french)
    assert '<option value="fr" lang="fr" selected>' in french
    spanish = client.get("/member?embed_lang=es", headers={"Accept-Language": "fr-CA"}).text
    assert 'name="language" value="es"' in html.unescape(spanish)
    assert "lang=es" in html.unescape(spanish)  # the iframe's form too
