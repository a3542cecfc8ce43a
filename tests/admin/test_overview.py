"""The admin overview counts from aggregates, erasures included; equal lines both show;
words agree with their numbers; the Atom feed is as new as its latest issue."""

import re
from datetime import timedelta

from app.charts import Series, line_chart
from app.db import session_scope, utcnow
from app.newsletters.models import Issue
from tests.admin.helpers import as_admin, reader
from tests.members.factories import csrf_for_logged_in
from tests.members.test_admin_chart import legend
from tests.newsletters.factories import make_issue, make_newsletter, mark_sent
from tests.subscribers.helpers import make_topics


def test_erasing_one_of_two_subscribers_leaves_one_in_the_chart(client, smtp, run_jobs):
    make_topics()
    ana = reader(client, smtp, run_jobs, "ana@example.org", ["food", "housing"])
    reader(client, smtp, run_jobs, "bo@example.org", ["food"])
    as_admin(client)
    assert legend(client.get("/admin").text) == {"Food co-ops": 2, "Housing": 1}
    client.post(
        f"/admin/subscribers/{ana}/erase",
        data={"csrf_token": csrf_for_logged_in(client), "confirmed": "yes"},
    )
    page = client.get("/admin").text
    assert legend(page) == {"Food co-ops": 1, "Housing": 0}


def test_lines_with_equal_values_are_told_apart():
    days = [utcnow().date() - timedelta(days=n) for n in (2, 1, 0)]
    chart = line_chart(
        title="Subscribers per topic",
        days=days,
        series=[Series("Food", [1, 2, 2]), Series("Housing", [1, 2, 2])],
    )
    dashes = re.findall(r'<polyline [^>]*?(stroke-dasharray="[^"]+")?/>', chart)
    assert dashes[0] == "" and dashes[1].startswith("stroke-dasharray")


def test_counts_are_said_with_the_right_word(client):
    from app.web import count_of

    assert count_of(1, "person", "people") == "1 person"
    assert count_of(0, "person", "people") == "0 people"
    assert count_of(1200, "person", "people") == "1,200 people"
    as_admin(client)
    newsletter = make_newsletter("commons")
    issue = make_issue(newsletter, subject="Spring")
    page = client.get(f"/admin/issues/{issue.id}")
    assert "estimated audience <strong>0 people</strong>" in page.text


def test_the_feed_is_as_new_as_its_latest_issue(client):
    from tests.newsletters.factories import make_topic

    newsletter = make_newsletter("commons", topics=[make_topic("food")])
    first = make_issue(newsletter, subject="One")
    mark_sent(first)
    with session_scope() as session:
        sent_at = session.get(Issue, first.id).sent_at
    feed = client.get("/archive/commons/feed.atom").text
    updated = re.search(r"<feed[^>]*>.*?<updated>([^<]+)</updated>", feed, re.S).group(1)
    assert updated.startswith(sent_at.strftime("%Y-%m-%dT%H:%M:%S"))
