"""The member dashboard lists the member's own topics with subscriber counts."""

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
