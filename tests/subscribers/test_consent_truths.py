"""What the consent pages and the data export say is true: sharing appears only where
the person asked for or gave it, a request the person turned down is recorded as
declined (never as a withdrawal of something never given), and a confirmation link whose
requests were all answered says so instead of offering a button. Through HTTP."""

import json

from sqlmodel import select

from app.db import session_scope
from app.subscribers.models import Subscriber
from app.subscribers.service import preferences_token
from tests.subscribers.helpers import confirm_link, hidden, link_in, make_topics, statuses
from tests.subscribers.test_consent_links import _api, _ledger


def _preferences(email="p@example.org") -> str:
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        return f"/preferences/{preferences_token(subscriber)}"


def _download(client) -> dict:
    url = _preferences()
    page = client.get(url)
    answer = client.post(
        url, data={"csrf_token": hidden(page.text, "csrf_token"), "action": "download"}
    )
    assert answer.status_code == 200
    return json.loads(answer.text)


def test_the_export_shows_sharing_only_where_it_was_given(client, smtp, run_jobs):
    ids = make_topics()
    _api(client, topics=["food", "housing"], share_with_members=True)
    run_jobs()
    (mail,) = smtp.wait_for("p@example.org")
    url = link_in(mail, "confirm")
    page = client.get(url)
    # Offers ticked for food only: housing's offers are left unticked, so declined.
    client.post(url, data={"csrf_token": hidden(page.text, "csrf_token"), "sharing": [ids["food"]]})

    data = _download(client)
    sharing = {s["topic"]["slug"]: s["sharing_with_members"] for s in data["subscriptions"]}
    assert sharing == {"food": "active", "housing": None}
    history = [(e["action"], e["scope"], e["topic"]) for e in data["consent_history"]]
    assert ("declined", "sharing", "housing") in history
    assert ("withdrawn", "sharing", "housing") not in history


def test_unticking_a_topic_never_confirmed_is_declined_not_withdrawn(client, smtp, run_jobs):
    ids = make_topics()
    _api(client, topics=["food"])
    run_jobs()
    confirm_link(client, link_in(smtp.wait_for("p@example.org")[0], "confirm"))
    _api(client, topics=["housing"], share_with_members=True)  # never confirmed
    run_jobs()
    assert statuses("p@example.org")["housing"] == ("pending", "pending")

    url = _preferences()
    page = client.get(url)
    client.post(
        url,
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "action": "save",
            "topics": [ids["food"]],
        },
    )
    ledger = _ledger()
    assert ("declined", "topic", ids["housing"]) in ledger
    assert ("declined", "sharing", ids["housing"]) in ledger
    assert not [e for e in ledger if e[0] == "withdrawn"]
    assert "housing" not in statuses("p@example.org")  # never subscribed, so not listed
    assert statuses("p@example.org")["food"] == ("active", None)


def test_a_link_whose_requests_were_confirmed_elsewhere_offers_no_button(client, smtp, run_jobs):
    make_topics()
    _api(client, topics=["food"])
    _api(client, topics=["food"])  # "I didn't get the email"
    run_jobs()
    first, second = (link_in(m, "confirm") for m in smtp.wait_for("p@example.org", count=2))
    confirm_link(client, second)  # the newer one is used
    page = client.get(first)
    assert page.status_code == 200
    assert "You are already subscribed" in page.text and "Food co-ops" in page.text
    assert "<button" not in page.text.split("<main", 1)[-1].split("</main>", 1)[0]
    before = _ledger()
    # A stale form posted anyway changes nothing.
    client.post(first, data={"csrf_token": hidden(client.get("/subscribe").text, "csrf_token")})
    assert _ledger() == before


def test_a_link_replaced_by_a_newer_request_says_so(client, smtp, run_jobs):
    make_topics()
    _api(client, topics=["food"])
    _api(client, topics=["food"])
    run_jobs()
    first, second = (link_in(m, "confirm") for m in smtp.wait_for("p@example.org", count=2))
    confirm_link(client, second)
    smtp.clear()
    # Unsubscribed, then signed up again: the old link's request was answered long ago,
    # and a newer email now asks for the same topic.
    url = _preferences()
    page = client.get(url)
    client.post(url, data={"csrf_token": hidden(page.text, "csrf_token"), "action": "save"})
    assert statuses("p@example.org")["food"][0] == "unsubscribed"
    _api(client, topics=["food"])
    run_jobs()
    assert statuses("p@example.org")["food"][0] == "pending"
    page = client.get(first)
    assert "replaced by a newer email" in page.text
    assert "Food co-ops" in page.text
    assert "<button" not in page.text.split("<main", 1)[-1].split("</main>", 1)[0]
