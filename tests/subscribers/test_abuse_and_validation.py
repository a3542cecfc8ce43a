"""No enumeration, validation with clear 4xx answers, honeypot, timestamps, rate limits."""

import html

from sqlmodel import select

from app.db import session_scope
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus
from app.subscribers.service import suppress
from tests.subscribers.helpers import (
    confirm_from_mail,
    hidden,
    hosted_form,
    make_topics,
    statuses,
)


def _api(client, email, **extra):
    return client.post("/api/v1/subscribe", json={"email": email, "topics": ["food"], **extra})


def test_every_address_state_gets_the_same_answer(client, smtp, run_jobs):
    make_topics()
    _api(client, "pending@example.org")
    _api(client, "active@example.org")
    confirm_from_mail(client, smtp, "active@example.org", run_jobs)
    _api(client, "gone@example.org")
    confirm_from_mail(client, smtp, "gone@example.org", run_jobs)
    with session_scope() as session:
        gone = session.exec(select(Subscriber).where(Subscriber.email == "gone@example.org")).one()
        sub = session.exec(select(Subscription).where(Subscription.subscriber_id == gone.id)).one()
        sub.status = SubscriptionStatus.unsubscribed
        suppress(session, "suppressed@example.org", "complaint")
    run_jobs()
    smtp.clear()

    answers = {}
    pages = {}
    for email in (
        "new@example.org",
        "pending@example.org",
        "active@example.org",
        "gone@example.org",
        "suppressed@example.org",
    ):
        response = _api(client, email)
        answers[email] = (response.status_code, response.content)
        page = client.post("/subscribe", data=hosted_form(client, email=email))
        pages[email] = (page.status_code, page.text.split("<main")[1])
    assert len(set(answers.values())) == 1
    assert next(iter(answers.values())) == (202, b'{"status":"pending"}')
    assert len(set(pages.values())) == 1

    run_jobs()
    # A suppressed address asking again gets its confirmation: only confirming lifts it.
    assert "/confirm/" in smtp.wait_for("suppressed@example.org", count=2)[0].text()
    already = smtp.wait_for("active@example.org", count=2)
    assert all(m.message["Subject"] == "You are already subscribed" for m in already)
    assert all("/preferences/" in m.text() and "/confirm/" not in m.text() for m in already)
    assert "/confirm/" in smtp.wait_for("new@example.org", count=2)[0].text()
    assert "/confirm/" in smtp.wait_for("gone@example.org", count=2)[0].text()


def test_api_validation_errors_are_clear_and_save_nothing(client):
    make_topics()
    cases = [
        ({"email": "not-an-address", "topics": ["food"]}, 422, "email"),
        ({"email": "a@example.org", "topics": ["nope"]}, 422, "unknown topic: nope"),
        ({"email": "a@example.org", "topics": []}, 422, "at least one topic"),
        ({"email": "a@example.org", "topics": [f"t{i}" for i in range(51)]}, 422, "at most 50"),
        ({"email": "a@example.org", "topics": ["food"], "first_name": "A\r\nBcc: x"}, 422, "line"),
        ({"email": "a@example.org\r\n", "topics": ["food"]}, 422, "line"),
        ({"email": "a@example.org", "topics": ["food"], "form_token": "x"}, 422, "form token"),
    ]
    for body, status, words in cases:
        response = client.post("/api/v1/subscribe", json=body)
        assert response.status_code == status, body
        assert words in str(response.json()["detail"]), (body, response.json())
    huge = client.post(
        "/api/v1/subscribe",
        content=b'{"email": "a@example.org", "topics": ["food"], "first_name": "'
        + b"x" * 17000
        + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert (
        client.post(
            "/api/v1/subscribe", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    with session_scope() as session:
        assert session.exec(select(Subscriber)).all() == []


def test_the_html_form_is_shown_again_with_the_field_marked(client):
    make_topics()
    response = client.post(
        "/subscribe", data=hosted_form(client, email="not an address", first_name="Ada")
    )
    assert response.status_code == 422
    assert 'class="field invalid"' in response.text
    assert 'value="not an address"' in response.text and 'value="Ada"' in response.text
    assert 'value="food" checked' in response.text
    no_topic = client.post("/subscribe", data=hosted_form(client, topics=[]))
    assert no_topic.status_code == 422 and "choose at least one topic" in no_topic.text
    unknown = client.post("/subscribe", data=hosted_form(client, topics=["nope"]))
    assert unknown.status_code == 422 and "unknown topic: nope" in unknown.text
    big = client.post("/subscribe", data=hosted_form(client, first_name="x" * 17000))
    assert big.status_code == 413
    assert statuses("reader@example.org") == {}


def test_honeypot_and_timestamps_drop_robots_quietly(client, smtp, run_jobs):
    make_topics()
    honeypot = client.post("/subscribe", data=hosted_form(client, website="http://spam.example"))
    assert honeypot.status_code == 200 and "Check your inbox" in honeypot.text
    forged = client.post("/subscribe", data=hosted_form(client, email="f@example.org", form_ts="x"))
    assert forged.status_code == 200
    missing = hosted_form(client, email="m@example.org")
    del missing["form_ts"]
    assert client.post("/subscribe", data=missing).status_code == 200
    run_jobs()
    with session_scope() as session:
        assert session.exec(select(Subscriber)).all() == []
    assert smtp.messages == []


def test_a_form_sent_faster_than_a_person_types_is_asked_again(client, smtp, run_jobs):
    """A browser's autofill is as fast as a robot: the person is asked to press again
    (their input kept, a new timestamp given) rather than told to check an inbox that
    will stay empty."""
    make_topics()
    fresh = hosted_form(client, email="quick@example.org", first_name="Quinn")
    page = client.get("/subscribe")
    fresh["form_ts"] = hidden(page.text, "form_ts")  # submitted the instant it was served
    quick = client.post("/subscribe", data=fresh)
    assert quick.status_code == 422
    assert "That was very quick: please check your details and press the button again." in (
        html.unescape(quick.text)
    )
    assert 'value="quick@example.org"' in quick.text and 'value="Quinn"' in quick.text
    run_jobs()
    assert smtp.messages == []
    again = hosted_form(client, email="quick@example.org")  # pressed again, a moment later
    assert "Check your inbox" in client.post("/subscribe", data=again).text
    run_jobs()
    assert "/confirm/" in smtp.wait_for("quick@example.org")[0].text()


def test_rate_limits_per_address_and_per_client(client):
    make_topics()
    for _ in range(5):
        assert _api(client, "many@example.org").status_code == 202
    limited = _api(client, "many@example.org")
    assert limited.status_code == 429 and "wait" in str(limited.json()["detail"])
    for i in range(14):  # 20 per client in the window, 6 used above
        assert _api(client, f"r{i}@example.org").status_code == 202
    assert _api(client, "one-more@example.org").status_code == 429
    page = client.post("/subscribe", data=hosted_form(client, email="x@example.org"))
    assert page.status_code == 429 and "Too many attempts" in page.text


def test_rate_limits_can_be_turned_off_by_setting(client, monkeypatch):
    from app.config import get_settings

    make_topics()
    monkeypatch.setattr(get_settings(), "signup_limit_per_client", 0)
    monkeypatch.setattr(get_settings(), "signup_limit_per_address", 0)
    for i in range(25):  # past both default limits, from one client
        assert _api(client, f"load{i}@example.org").status_code == 202
    for _ in range(6):
        assert _api(client, "same@example.org").status_code == 202
