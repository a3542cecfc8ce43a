"""Issue 14: a confirmation link confirms exactly what its email showed, sharing is its
own unticked choice, earlier links keep working, and the API refuses signups without
(known) topics. Observed through HTTP, the mail that arrives and the ledger."""

from sqlmodel import col, select

from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentText
from app.db import session_scope
from tests.subscribers.helpers import (
    assert_ledger_verifies,
    confirm_from_mail,
    confirm_link,
    hidden,
    link_in,
    make_topics,
    sharing_choices,
    statuses,
)


def _api(client, email="p@example.org", **body):
    return client.post("/api/v1/subscribe", json={"email": email, **body})


def _ledger() -> list[tuple[str, str, str | None]]:
    with session_scope() as session:
        rows = session.exec(
            select(ConsentEvent.action, ConsentEvent.scope, ConsentEvent.topic_id).order_by(
                col(ConsentEvent.id)
            )
        ).all()
    return [(str(a), str(s), t) for a, s, t in rows]


def test_finding_1_nobody_can_switch_on_someone_elses_sharing(client, smtp, run_jobs):
    ids = make_topics()
    _api(client, topics=["housing"])
    confirm_from_mail(client, smtp, "p@example.org", run_jobs)
    assert statuses("p@example.org") == {"housing": ("active", None)}
    smtp.clear()

    # Anyone may post this; only the mailbox's owner can act on it.
    answer = _api(client, topics=["housing"], share_with_members=True)
    assert answer.status_code == 202
    run_jobs()
    (mail,) = smtp.wait_for("p@example.org")
    # The email says what is being asked: sharing, with its words.
    assert "Offers from member co-ops on: Housing" in mail.text()
    assert "never see my address" in mail.text()
    url = link_in(mail, "confirm")
    page = client.get(url)
    assert "Offers from member co-ops" in page.text and "never see my address" in page.text
    assert sharing_choices(page.text) == [str(ids["housing"])]  # shown, unticked

    # Pressing Confirm without ticking confirms nothing.
    client.post(url, data={"csrf_token": hidden(page.text, "csrf_token")})
    assert statuses("p@example.org")["housing"][1] != "active"
    assert ("confirmed", "sharing", ids["housing"]) not in _ledger()
    assert_ledger_verifies(run_jobs)


def test_ticking_sharing_on_the_confirmation_page_confirms_it(client, smtp, run_jobs):
    ids = make_topics()
    _api(client, topics=["food", "housing"], share_with_members=True)
    run_jobs()
    (mail,) = smtp.wait_for("p@example.org")
    url = link_in(mail, "confirm")
    page = client.get(url)
    client.post(url, data={"csrf_token": hidden(page.text, "csrf_token"), "sharing": [ids["food"]]})
    assert statuses("p@example.org") == {
        "food": ("active", "active"),
        "housing": ("active", None),  # left unticked: declined, so never given
    }
    assert_ledger_verifies(run_jobs)


def test_finding_2_an_earlier_link_survives_a_second_signup(client, smtp, run_jobs):
    make_topics()
    _api(client, topics=["food"])
    _api(client, topics=["food"])  # "I didn't get the email"
    run_jobs()
    first, second = (link_in(m, "confirm") for m in smtp.wait_for("p@example.org", count=2))
    assert first != second
    confirmed = confirm_link(client, first)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert statuses("p@example.org") == {"food": ("active", None)}
    assert_ledger_verifies(run_jobs)


def test_two_links_for_different_topics_each_confirm_only_their_own(client, smtp, run_jobs):
    ids = make_topics()
    _api(client, topics=["food"])
    _api(client, topics=["housing"])
    run_jobs()
    mails = smtp.wait_for("p@example.org", count=2)
    # Each email lists only what its own link confirms (they may arrive in any order).
    (food_mail,) = [m for m in mails if "Food co-ops" in m.text()]
    (housing_mail,) = [m for m in mails if "Housing" in m.text()]
    assert food_mail is not housing_mail
    food_link, housing_link = link_in(food_mail, "confirm"), link_in(housing_mail, "confirm")

    confirm_link(client, housing_link)
    assert statuses("p@example.org") == {"food": ("pending", None), "housing": ("active", None)}
    confirm_link(client, food_link)
    assert statuses("p@example.org") == {"food": ("active", None), "housing": ("active", None)}
    confirmed = [(s, t) for a, s, t in _ledger() if a == "confirmed"]
    assert confirmed == [("topic", ids["housing"]), ("topic", ids["food"])]
    assert_ledger_verifies(run_jobs)


def test_a_later_request_never_adds_to_an_earlier_link(client, smtp, run_jobs):
    make_topics()
    _api(client, topics=["food"])
    run_jobs()
    (first_mail,) = smtp.wait_for("p@example.org")
    _api(client, topics=["housing"], share_with_members=True)
    run_jobs()
    page = client.get(link_in(first_mail, "confirm"))
    assert "Food co-ops" in page.text and "Housing" not in page.text
    assert sharing_choices(page.text) == []
    confirm_link(client, link_in(first_mail, "confirm"), share=True)
    assert statuses("p@example.org") == {
        "food": ("active", None),
        "housing": ("pending", "pending"),
    }
    assert_ledger_verifies(run_jobs)


def test_a_link_confirmed_twice_records_nothing_the_second_time(client, smtp, run_jobs):
    make_topics()
    _api(client, topics=["food"])
    run_jobs()
    url = link_in(smtp.wait_for("p@example.org")[0], "confirm")
    page = client.get(url)
    csrf = hidden(page.text, "csrf_token")
    client.post(url, data={"csrf_token": csrf})
    before = _ledger()
    again = client.post(url, data={"csrf_token": csrf})
    assert again.status_code == 200 and "already used" in again.text
    assert _ledger() == before
    assert_ledger_verifies(run_jobs)


def test_confirmations_quote_the_words_their_email_showed(client, smtp, run_jobs):
    make_topics()
    _api(client, topics=["food"])
    run_jobs()
    (mail,) = smtp.wait_for("p@example.org")
    # Finding 10: the topic text tells the whole truth, and the email quotes it.
    assert "sponsored blocks from member co-ops" in mail.text()
    confirm_link(client, link_in(mail, "confirm"))
    with session_scope() as session:
        request, confirmation = session.exec(
            select(ConsentEvent).order_by(col(ConsentEvent.id))
        ).all()
        assert request.consent_text_id == confirmation.consent_text_id
        text = session.get(ConsentText, confirmation.consent_text_id)
        assert text.scope == ConsentScope.topic and "sponsored blocks" in text.body
        assert f"version {text.version}" in mail.text()
        assert confirmation.action == ConsentAction.confirmed
    assert_ledger_verifies(run_jobs)


def test_finding_7_the_api_refuses_missing_and_unknown_topics(client, smtp, run_jobs):
    make_topics()
    missing = _api(client)
    assert missing.status_code == 422
    assert missing.json()["detail"] == [{"field": "topics", "message": "choose at least one topic"}]
    empty = _api(client, topics=[])
    assert empty.status_code == 422 and "at least one topic" in empty.text
    unknown = _api(client, topics=["food", "nope", "gone"])
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["message"] == "unknown topic: nope, gone"
    run_jobs()
    assert smtp.to("p@example.org") == []
    assert statuses("p@example.org") == {}
