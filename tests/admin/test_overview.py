"""The admin overview counts from aggregates, erasures included; equal lines both show;
words agree with their numbers; the Atom feed is as new as its latest issue."""

import re
from datetime import timedelta

from sqlmodel import delete, select

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


def _history() -> dict[str, int]:
    """Three people with a week of ledger behind them (as a live Club has), and the
    subscriptions that history left: Ana joined food 5 days ago; Bo joined food 3 days
    ago and left yesterday; Cy joined housing 4 days ago and was erased 2 days ago."""
    from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentSource
    from app.subscribers.models import Subscriber, Subscription

    topics = make_topics()
    now = utcnow()
    ago = {n: now - timedelta(days=n) for n in range(7)}
    with session_scope() as session:
        ana = Subscriber(email="ana@example.org", address_hmac="a" * 64)
        bo = Subscriber(email="bo@example.org", address_hmac="b" * 64)
        session.add_all([ana, bo])
        session.flush()
        session.add(Subscription(subscriber_id=ana.id, topic_id=topics["food"], status="active"))
        session.add(
            Subscription(subscriber_id=bo.id, topic_id=topics["food"], status="unsubscribed")
        )
        steps = [
            (ana.key, "food", ConsentAction.requested, ago[5]),
            (ana.key, "food", ConsentAction.confirmed, ago[5]),
            ("c" * 32, "housing", ConsentAction.requested, ago[4]),
            ("c" * 32, "housing", ConsentAction.confirmed, ago[4]),
            (bo.key, "food", ConsentAction.requested, ago[3]),
            (bo.key, "food", ConsentAction.confirmed, ago[3]),
            ("c" * 32, None, ConsentAction.erased, ago[2]),
            # Asked again while on the list (as a suppressed person is): no second join.
            (ana.key, "food", ConsentAction.requested, ago[2]),
            (ana.key, "food", ConsentAction.confirmed, ago[2]),
            (bo.key, "food", ConsentAction.withdrawn, ago[1]),
            (bo.key, "food", ConsentAction.withdrawn, ago[0]),  # a repeat: not a second leave
        ]
        for key, slug, action, at in steps:
            session.add(
                ConsentEvent(
                    subscriber_key=key,
                    scope=ConsentScope.topic,
                    action=action,
                    topic_id=topics[slug] if slug else None,
                    source=ConsentSource.form,
                    occurred_at=at,
                )
            )
            session.flush()  # ids in the order things happened
    return topics


def test_past_days_come_from_the_rollup_which_follows_the_log_once(client):
    from app.consent import log as consent_log
    from app.subscribers import growth
    from app.subscribers.models import TopicDay
    from workers.consent_log import sequence_consent_log

    _history()
    with session_scope() as session:
        _days, series, _now = growth.topic_growth(session, days=7)
        unrolled = {topic.slug: values for topic, values in series}
    # Nothing is sequenced or rolled up yet: the same numbers from the events themselves.
    assert unrolled["food"] == [0, 1, 1, 2, 2, 1, 1]
    assert unrolled["housing"] == [0, 0, 1, 1, 0, 0, 0]
    sequence_consent_log()  # the sequencer's tick: the log, then the rollup
    with session_scope() as session:
        _days, series, now = growth.topic_growth(session, days=7)
        got = {topic.slug: values for topic, values in series}
        assert growth.roll_up(session) is False  # caught up: nothing counted twice
    assert got["food"] == [0, 1, 1, 2, 2, 1, 1]
    assert got["housing"] == [0, 0, 1, 1, 0, 0, 0]
    # A page at a time gives the same rows as one go.
    with session_scope() as session:
        whole = sorted(
            (r.topic_id, r.day, r.joined, r.left) for r in session.exec(select(TopicDay))
        )
    with session_scope() as session:
        session.exec(delete(TopicDay))
        session.get(growth.LedgerRollup, growth.ROLLUP).seq = 0
    with session_scope() as session:
        assert consent_log.tree_size(session) == 11
        while growth.roll_up(session, page=2):
            pass
        paged = sorted(
            (r.topic_id, r.day, r.joined, r.left) for r in session.exec(select(TopicDay))
        )
    assert paged == whole
