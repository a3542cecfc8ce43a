"""Admins find people by address and filters, read one person's record, and act on it:
each action is confirmed first and lands in the consent ledger with the admin named."""

import re

from sqlmodel import select

from app.consent.models import ConsentAction, ConsentEvent, ConsentSource
from app.db import session_scope
from app.subscribers.service import is_suppressed
from tests.admin.helpers import as_admin, reader
from tests.members.factories import csrf_for_logged_in
from tests.subscribers.helpers import make_topics, statuses


def _post(client, path: str, **fields):
    data = {"csrf_token": csrf_for_logged_in(client), **fields}
    return client.post(path, data=data)


def _emails(page) -> list[str]:
    return re.findall(r'href="/admin/subscribers/\d+">([^<]+)</a>', page.text)


def test_search_by_exact_address_by_prefix_and_by_filters(client, smtp, run_jobs):
    make_topics()
    reader(client, smtp, run_jobs, "ana@example.org", ["food"])
    reader(client, smtp, run_jobs, "anabel@example.org", ["housing"])
    reader(client, smtp, run_jobs, "bo@example.org", ["food", "housing"])
    client.post("/api/v1/subscribe", json={"email": "pending@example.org", "topics": ["food"]})
    run_jobs()  # the signup's job makes the subscriber
    as_admin(client)
    assert _emails(client.get("/admin/subscribers?q=ANA@example.org")) == ["ana@example.org"]
    assert _emails(client.get("/admin/subscribers?q=ana")) == [
        "ana@example.org",
        "anabel@example.org",
    ]
    assert _emails(client.get("/admin/subscribers?q=a%25")) == []  # no wildcards
    newest_first = ["pending", "bo", "anabel", "ana"]
    assert _emails(client.get("/admin/subscribers")) == [f"{n}@example.org" for n in newest_first]
    topics = make_topic_ids()
    active_food = client.get(f"/admin/subscribers?topic={topics['food']}&status=active")
    assert _emails(active_food) == ["bo@example.org", "ana@example.org"]
    pending = client.get("/admin/subscribers?status=pending")
    assert _emails(pending) == ["pending@example.org"]


def make_topic_ids() -> dict[str, int]:
    from app.subscribers.models import Topic

    with session_scope() as session:
        return {t.slug: t.id for t in session.exec(select(Topic)).all()}


def test_the_list_pages_with_a_cursor_not_an_offset(client, smtp, run_jobs):
    from app.subscribers import roster

    make_topics()
    for n in range(5):  # one after the other: the signups' jobs make them in this order
        client.post("/api/v1/subscribe", json={"email": f"p{n}@example.org", "topics": ["food"]})
        run_jobs()
    with session_scope() as session:
        first = roster.search(session, roster.Filters(), limit=2)
        second = roster.search(session, roster.Filters(), after=first.next_after, limit=2)
        third = roster.search(session, roster.Filters(), after=second.next_after, limit=2)
        by_prefix = roster.search(session, roster.Filters(q="p"), limit=3)
        rest = roster.search(session, roster.Filters(q="p"), after=by_prefix.next_after, limit=3)
    emails = [r.subscriber.email for page in (first, second, third) for r in page.rows]
    assert emails == [f"p{n}@example.org" for n in (4, 3, 2, 1, 0)] and third.next_after is None
    assert [r.subscriber.email for r in by_prefix.rows + rest.rows] == [
        f"p{n}@example.org" for n in range(5)
    ]
    as_admin(client)
    page = client.get("/admin/subscribers?q=p")
    assert "End of the list." in page.text


def test_the_person_page_shows_subscriptions_history_and_receipts(client, smtp, run_jobs):
    make_topics()
    ana = reader(client, smtp, run_jobs, "ana@example.org", ["food", "housing"])
    as_admin(client)
    page = client.get(f"/admin/subscribers/{ana}")
    assert page.status_code == 200
    assert "Food co-ops" in page.text and "Housing" in page.text
    assert page.text.count(">confirmed<") == 2 and page.text.count(">requested<") == 2
    receipt = re.search(r'href="(/receipts/[^"]+)">Download', page.text).group(1)
    assert client.get(receipt).status_code in (200, 202)
    assert client.get("/admin/subscribers/999999").status_code == 404


def test_unsubscribing_asks_first_then_records_the_admin(client, smtp, run_jobs):
    make_topics()
    ana = reader(client, smtp, run_jobs, "ana@example.org", ["food", "housing"])
    admin = as_admin(client)
    food = make_topic_ids()["food"]
    asked = _post(client, f"/admin/subscribers/{ana}/unsubscribe", topic=str(food))
    assert "Unsubscribe ana@example.org from Food co-ops?" in asked.text
    assert statuses("ana@example.org")["food"] == ("active", None)  # nothing yet
    done = _post(client, f"/admin/subscribers/{ana}/unsubscribe", topic=str(food), confirmed="yes")
    assert "ana@example.org is unsubscribed from Food co-ops." in done.text
    assert statuses("ana@example.org") == {
        "food": ("unsubscribed", None),
        "housing": ("active", None),
    }
    with session_scope() as session:
        event = session.exec(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.withdrawn)
        ).one()
    assert event.source == ConsentSource.admin and event.actor_account_id == admin.id
    page = client.get(f"/admin/subscribers/{ana}")
    assert "admin by admin@club.example.org" in page.text
    everything = _post(
        client, f"/admin/subscribers/{ana}/unsubscribe", topic="all", confirmed="yes"
    )
    assert "unsubscribed from every topic" in everything.text
    assert statuses("ana@example.org")["housing"] == ("unsubscribed", None)


def test_suppress_and_erase_ask_first_and_leave_only_a_suppression(client, smtp, run_jobs):
    make_topics()
    ana = reader(client, smtp, run_jobs, "ana@example.org", ["food"])
    bo = reader(client, smtp, run_jobs, "bo@example.org", ["food"])
    admin = as_admin(client)
    asked = _post(client, f"/admin/subscribers/{ana}/suppress")
    assert "Suppress ana@example.org?" in asked.text
    with session_scope() as session:
        assert not is_suppressed(session, "ana@example.org")
    _post(client, f"/admin/subscribers/{ana}/suppress", confirmed="yes")
    with session_scope() as session:
        assert is_suppressed(session, "ana@example.org")
    assert statuses("ana@example.org") == {"food": ("unsubscribed", None)}
    asked = _post(client, f"/admin/subscribers/{bo}/erase")
    assert "Erase bo@example.org?" in asked.text and "cannot be undone" in asked.text
    erased = _post(client, f"/admin/subscribers/{bo}/erase", confirmed="yes")
    assert "bo@example.org is erased" in erased.text
    assert statuses("bo@example.org") == {}
    with session_scope() as session:
        event = session.exec(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.erased)
        ).one()
        assert event.actor_account_id == admin.id
    page = client.get("/admin/suppressions")
    assert "suppressed by an admin" in page.text and "erased by an admin" in page.text
    assert "ana@example.org" not in page.text  # only hashes are kept: nothing to list
    found = client.get("/admin/suppressions?address=BO@example.org")
    assert "is suppressed (erased by an admin" in found.text
    clean = client.get("/admin/suppressions?address=new@example.org")
    assert "is not suppressed" in clean.text
    bad = client.get("/admin/suppressions?address=nonsense")
    assert "not an email address" in bad.text


def test_an_export_is_built_by_a_job_and_downloaded(client, smtp, run_jobs):
    make_topics()
    reader(client, smtp, run_jobs, "ana@example.org", ["food"])
    reader(client, smtp, run_jobs, "bo@example.org", ["housing"])
    as_admin(client)
    topic = make_topic_ids()["food"]
    started = client.post(
        "/admin/exports",
        data={"csrf_token": csrf_for_logged_in(client), "topic": str(topic)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    url = started.headers["location"]
    run_jobs()
    page = client.get(url)
    assert "Download the CSV (1 person)" in page.text
    csv_file = client.get(url + "/download")
    assert csv_file.headers["content-type"].startswith("text/csv")
    lines = csv_file.text.strip().splitlines()
    assert lines[0] == "email,first_name,subscribed_since,active_topics,pending_topics,suppressed"
    assert len(lines) == 2 and lines[1].startswith("ana@example.org,,") and ",food,," in lines[1]
