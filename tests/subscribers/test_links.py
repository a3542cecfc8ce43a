"""Signed links: refused when expired, tampered or of another purpose; GET never changes
anything; RFC 8058 one-click unsubscribe; the preference centre; erasure."""

import json
import re
import time

from sqlalchemy import text
from sqlmodel import col, select

from app import signing
from app.consent.models import ConsentAction, ConsentEvent
from app.db import get_engine, session_scope
from app.subscribers.models import Subscriber, Suppression
from app.subscribers.service import preferences_token, unsubscribe_token
from tests.subscribers.helpers import (
    assert_ledger_verifies,
    confirm_from_mail,
    hidden,
    link_in,
    make_topics,
    statuses,
)


def _subscribe(client, email="p@example.org", topics=("food", "housing"), **extra):
    response = client.post(
        "/api/v1/subscribe", json={"email": email, "topics": list(topics), **extra}
    )
    assert response.status_code == 202


def _subscriber(email="p@example.org") -> Subscriber:
    with session_scope() as session:
        return session.exec(select(Subscriber).where(Subscriber.email == email)).one()


def _withdrawals() -> int:
    with session_scope() as session:
        return len(
            session.exec(
                select(ConsentEvent).where(ConsentEvent.action == ConsentAction.withdrawn)
            ).all()
        )


def test_confirmation_links_are_refused_when_expired_tampered_used_or_of_another_kind(
    client, smtp, run_jobs, monkeypatch
):
    make_topics()
    _subscribe(client)
    run_jobs()
    url = link_in(smtp.wait_for("p@example.org")[0], "confirm")
    token = url.rsplit("/", 1)[1]
    payload = signing.unsign(signing.Purpose.confirm, token)

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 8 * 24 * 3600)
    expired = signing.sign(signing.Purpose.confirm, payload)
    monkeypatch.setattr(time, "time", real_time)
    page = client.get(f"/confirm/{expired}")
    assert page.status_code == 400 and "expired" in page.text
    assert "Send me a new link" in page.text

    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert "not valid" in client.get(f"/confirm/{tampered}").text
    other_kind = signing.sign(signing.Purpose.preferences, payload)
    assert client.get(f"/confirm/{other_kind}").status_code == 400
    assert client.get(f"/u/{token}").status_code == 400  # a confirm link is no unsubscribe link
    assert client.get(f"/preferences/{token}").status_code == 400

    # GET shows a button and changes nothing; only the POST confirms.
    page = client.get(url)
    assert statuses("p@example.org")["food"] == ("pending", None)
    client.post(url, data={"csrf_token": hidden(page.text, "csrf_token")})
    assert statuses("p@example.org")["food"] == ("active", None)
    # Finding 3: a used link says what the person now receives, by topic name only.
    again = client.post(url, data={"csrf_token": hidden(page.text, "csrf_token")})
    assert again.status_code == 200 and "already used" in again.text
    assert "Food co-ops" in again.text and "Housing" in again.text
    assert "p@example.org" not in again.text and "/preferences/" in again.text
    # Opened again, the same page; only its fresh preference-centre link may differ (it
    # is signed with the time, so two renders a second apart differ there).
    fresh = re.compile(r"/preferences/[^\"]+")
    assert fresh.sub("/preferences/…", client.get(url).text) == fresh.sub(
        "/preferences/…", again.text
    )


def test_a_new_link_can_be_requested(client, smtp, run_jobs):
    make_topics()
    _subscribe(client)
    run_jobs()
    first = link_in(smtp.wait_for("p@example.org")[0], "confirm")
    page = client.get("/confirm/garbage")
    answer = client.post(
        "/confirm/resend",
        data={"csrf_token": hidden(page.text, "csrf_token"), "email": "p@example.org"},
    )
    unknown = client.post(
        "/confirm/resend",
        data={"csrf_token": hidden(page.text, "csrf_token"), "email": "who@example.org"},
    )
    assert answer.status_code == unknown.status_code == 200
    assert answer.text.split("<main")[1] == unknown.text.split("<main")[1]
    run_jobs()
    second = link_in(smtp.wait_for("p@example.org", count=2)[1], "confirm")
    # Finding 2: the newer link does not retire the older one; each works for what it
    # showed, and once one is used the other has nothing left to confirm.
    assert client.get(first).status_code == client.get(second).status_code == 200
    page = client.get(first)
    assert "Food co-ops" in page.text
    client.post(first, data={"csrf_token": hidden(page.text, "csrf_token")})
    assert statuses("p@example.org")["food"] == ("active", None)
    already = client.get(second).text  # says so, with no button that would do nothing
    assert "You are already subscribed" in already and ">Confirm</button>" not in already
    assert smtp.to("who@example.org") == []


def test_one_click_unsubscribe_in_both_encodings_idempotent_and_get_is_harmless(
    client, smtp, run_jobs
):
    make_topics()
    _subscribe(client)
    confirm_from_mail(client, smtp, "p@example.org", run_jobs)
    subscriber = _subscriber()
    food, everything = unsubscribe_token(subscriber, None), None
    with session_scope() as session:
        from app.subscribers.models import Topic

        food_id = session.exec(select(Topic.id).where(Topic.slug == "food")).one()
    food = unsubscribe_token(subscriber, food_id)
    everything = unsubscribe_token(subscriber, None)

    page = client.get(f"/u/{food}")
    assert page.status_code == 200 and "<form" in page.text and "Food co-ops" in page.text
    assert statuses("p@example.org")["food"] == ("active", None)

    client.cookies.clear()  # a mailbox provider posts without any cookie or CSRF token
    first = client.post(
        f"/u/{food}", data={"List-Unsubscribe": "One-Click"}, follow_redirects=False
    )
    assert first.status_code == 200
    assert statuses("p@example.org") == {
        "food": ("unsubscribed", None),
        "housing": ("active", None),
    }
    assert _withdrawals() == 1
    repeat = client.post(f"/u/{food}", data={"List-Unsubscribe": "One-Click"})
    assert repeat.status_code == 200 and _withdrawals() == 1

    client.cookies.clear()
    multipart = client.post(
        f"/u/{everything}",
        files={"List-Unsubscribe": (None, "One-Click")},
        follow_redirects=False,
    )
    assert multipart.status_code == 200
    assert statuses("p@example.org") == {
        "food": ("unsubscribed", None),
        "housing": ("unsubscribed", None),
    }
    assert _withdrawals() == 2
    assert client.post(f"/u/{food[:-2]}xx").status_code == 400


def test_preference_centre_switches_topics_and_sharing_and_downloads_data(client, smtp, run_jobs):
    make_topics()
    _subscribe(client, topics=("food",), first_name="Ada")
    confirm_from_mail(client, smtp, "p@example.org", run_jobs)
    token = preferences_token(_subscriber())
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "p@example.org" in page.text
    with session_scope() as session:
        from app.subscribers.models import Topic

        ids = dict(session.exec(select(Topic.slug, Topic.id)).all())
    csrf_token = hidden(page.text, "csrf_token")
    saved = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf_token, "action": "save", "topics": [str(ids["housing"])]},
    )
    assert saved.status_code == 200 and "saved" in saved.text
    # Joining a topic does not share it: sharing is offered on it once the person is on it.
    assert statuses("p@example.org") == {
        "food": ("unsubscribed", None),
        "housing": ("active", None),
    }
    assert f'name="sharing" value="{ids["housing"]}"' in saved.text
    saved = client.post(
        f"/preferences/{token}",
        data={
            "csrf_token": csrf_token,
            "action": "save",
            "topics": [str(ids["housing"])],
            "sharing": [str(ids["housing"])],
        },
    )
    assert statuses("p@example.org") == {
        "food": ("unsubscribed", None),
        "housing": ("active", "active"),
    }
    download = client.post(
        f"/preferences/{token}",
        data={"csrf_token": hidden(page.text, "csrf_token"), "action": "download"},
    )
    data = json.loads(download.content)
    assert data["subscriber"]["email"] == "p@example.org"
    assert data["subscriber"]["first_name"] == "Ada"
    assert {s["topic"]["slug"]: s["status"] for s in data["subscriptions"]} == {
        "food": "unsubscribed",
        "housing": "active",
    }
    actions = [(e["scope"], e["action"], e["topic"]) for e in data["consent_history"]]
    assert actions[:2] == [("topic", "requested", "food"), ("topic", "confirmed", "food")]
    assert ("sharing", "confirmed", "housing") in actions
    no_csrf = client.post(f"/preferences/{token}", data={"action": "unsubscribe_all"})
    assert no_csrf.status_code == 403


def test_erasure_leaves_only_the_hmac_and_the_person_can_come_back(client, smtp, run_jobs):
    make_topics()
    _subscribe(client, email="Erase.Me@Example.org", first_name="Zed")
    confirm_from_mail(client, smtp, "erase.me@example.org", run_jobs)
    token = preferences_token(_subscriber("erase.me@example.org"))
    page = client.get(f"/preferences/{token}")
    ask = client.post(
        f"/preferences/{token}",
        data={"csrf_token": hidden(page.text, "csrf_token"), "action": "erase"},
    )
    assert "Erase your data?" in ask.text
    assert _subscriber("erase.me@example.org")  # asking once more changed nothing
    done = client.post(
        f"/preferences/{token}",
        data={"csrf_token": hidden(page.text, "csrf_token"), "action": "erase_confirmed"},
    )
    assert done.status_code == 200 and "You are erased" in done.text

    # Nowhere in the database is the address or the name left.
    with get_engine().connect() as conn:
        for table in ("subscriber", "subscription", "transactional_email", "consent_event"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            dump = repr(rows).lower()
            assert "erase.me" not in dump and "zed" not in dump, table
    with session_scope() as session:
        (suppression,) = session.exec(select(Suppression)).all()
        assert re.fullmatch(r"[0-9a-f]{64}", suppression.address_hmac)
        assert suppression.reason == "erased on request"
        last = session.exec(
            select(ConsentEvent.action).order_by(col(ConsentEvent.id).desc())
        ).first()
        assert last == ConsentAction.erased
    assert client.get(f"/preferences/{token}").status_code == 404

    smtp.clear()
    again = client.post(
        "/api/v1/subscribe", json={"email": "erase.me@example.org", "topics": ["food"]}
    )
    assert again.status_code == 202 and again.json() == {"status": "pending"}
    # Finding 5: the erased person coming back gets the confirmation; until they
    # confirm, the suppression holds; confirming lifts it, and the ledger says so.
    run_jobs()
    assert statuses("erase.me@example.org") == {"food": ("pending", None)}
    with session_scope() as session:
        assert len(session.exec(select(Suppression)).all()) == 1
    confirmed = confirm_from_mail(client, smtp, "erase.me@example.org", run_jobs)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert statuses("erase.me@example.org") == {"food": ("active", None)}
    with session_scope() as session:
        assert session.exec(select(Suppression)).all() == []
        actions = session.exec(select(ConsentEvent.action).order_by(ConsentEvent.id)).all()
        assert actions[-2:] == [ConsentAction.confirmed, ConsentAction.lifted]
    assert_ledger_verifies(run_jobs)  # the log survives the erasure


def test_links_sent_before_compact_tokens_still_work_and_forgeries_do_not(
    client, smtp, run_jobs, monkeypatch
):
    make_topics()
    _subscribe(client)
    confirm_from_mail(client, smtp, "p@example.org", run_jobs)
    subscriber = _subscriber()
    check = unsubscribe_token(subscriber, None).split(".")[2]
    # An unsubscribe link in the format every newsletter carried before.
    old = signing.sign(signing.Purpose.unsubscribe, {"s": subscriber.id, "c": check, "t": None})
    assert client.post(f"/u/{old}").status_code == 200
    assert set(statuses("p@example.org").values()) == {("unsubscribed", None)}
    old_preferences = signing.sign(signing.Purpose.preferences, {"s": subscriber.id, "c": check})
    assert client.get(f"/preferences/{old_preferences}").status_code == 200
    # A compact token of another purpose, or with a field changed, is refused.
    preferences = preferences_token(subscriber)
    assert client.get(f"/u/{preferences}").status_code == 400
    fields = unsubscribe_token(subscriber, None).split(".")
    fields[1] = format(subscriber.id + 1, "x")
    assert client.get("/u/" + ".".join(fields)).status_code == 400
    # Compact links last as long as the old ones: two years, then "expired".
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3 * 365 * 24 * 3600)
    page = client.get(f"/preferences/{preferences}")
    assert page.status_code == 400 and "expired" in page.text


def _events_of(email: str) -> list[tuple[str, str, int | None]]:
    key = _subscriber(email).key
    with session_scope() as session:
        return [
            (str(e.scope), str(e.action), e.topic_id)
            for e in session.exec(select(ConsentEvent).where(ConsentEvent.subscriber_key == key))
        ]


def test_the_preference_centre_refuses_hidden_and_archived_topics(client, smtp, run_jobs):
    from app.subscribers.models import Topic, TopicStatus

    ids = make_topics()
    _subscribe(client, topics=("food", "housing"))
    confirm_from_mail(client, smtp, "p@example.org", run_jobs)
    token = preferences_token(_subscriber())
    page = client.get(f"/preferences/{token}")
    csrf = hidden(page.text, "csrf_token")
    # Leave housing, then the Club hides it; riverside-news is archived.
    left = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf, "action": "save", "topics": [str(ids["food"])]},
    )
    assert left.status_code == 200
    with session_scope() as session:
        session.get(Topic, ids["housing"]).status = TopicStatus.hidden
        session.get(Topic, ids["riverside-news"]).status = TopicStatus.archived
    page = client.get(f"/preferences/{token}").text
    assert "Riverside news" not in page and f'value="{ids["housing"]}"' not in page
    before = _events_of("p@example.org")
    for closed in ("housing", "riverside-news"):
        refused = client.post(
            f"/preferences/{token}",
            data={
                "csrf_token": csrf,
                "action": "save",
                "topics": [str(ids["food"]), str(ids[closed])],
                "sharing": [str(ids["food"])],
            },
        )
        assert refused.status_code == 422
        assert "no longer takes new subscribers" in refused.text
        assert "Nothing was changed." in refused.text
        assert _events_of("p@example.org") == before  # not even the sharing consent
    assert statuses("p@example.org")["housing"][0] == "unsubscribed"
    assert "riverside-news" not in statuses("p@example.org")
    # Keeping a topic that was hidden while the person was on it is fine.
    with session_scope() as session:
        session.get(Topic, ids["food"]).status = TopicStatus.hidden
    kept = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf, "action": "save", "topics": [str(ids["food"])]},
    )
    assert kept.status_code == 200 and _events_of("p@example.org") == before


def test_saving_the_preference_centre_changes_sharing_only_where_the_person_changed_it(
    client, smtp, run_jobs
):
    """Sharing given on one topic only stays on that topic: saving the page as it is
    records nothing, and sharing is switched topic by topic."""
    make_topics()
    _subscribe(client, topics=("food", "housing"), share_with_members=True)
    run_jobs()
    (mail,) = smtp.wait_for("p@example.org")
    url = link_in(mail, "confirm")
    page = client.get(url)
    with session_scope() as session:
        from app.subscribers.models import Topic

        ids = dict(session.exec(select(Topic.slug, Topic.id)).all())
    client.post(  # sharing ticked for housing only
        url, data={"csrf_token": hidden(page.text, "csrf_token"), "sharing": [ids["housing"]]}
    )
    assert statuses("p@example.org") == {
        "food": ("active", None),  # left unticked: declined, never given
        "housing": ("active", "active"),
    }
    token = preferences_token(_subscriber())
    page = client.get(f"/preferences/{token}").text
    assert re.search(rf'name="sharing" value="{ids["housing"]}" checked', page)
    assert re.search(rf'name="sharing" value="{ids["food"]}">', page)  # offered, not ticked
    before = _events_of("p@example.org")
    as_it_is = {
        "csrf_token": hidden(page, "csrf_token"),
        "action": "save",
        "topics": [str(ids["food"]), str(ids["housing"])],
        "sharing": [str(ids["housing"])],
    }
    assert client.post(f"/preferences/{token}", data=as_it_is).status_code == 200
    assert _events_of("p@example.org") == before  # nothing recorded
    assert statuses("p@example.org")["food"] == ("active", None)
    client.post(f"/preferences/{token}", data={**as_it_is, "sharing": [str(ids["food"])]})
    assert statuses("p@example.org") == {
        "food": ("active", "active"),
        "housing": ("active", "unsubscribed"),
    }
