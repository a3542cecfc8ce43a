"""Recruiting credits wait out a holding period: an erasure, a hard bounce or a complaint
in that time cancels them; afterwards the sweep grants them to the credit ledger once."""

from dataclasses import dataclass

import pytest
from sqlmodel import select

from app.config import get_settings
from app.db import session_scope
from app.jobs import run_sweeps
from app.subscribers import preferences
from app.subscribers.models import Subscriber
from tests.members.factories import make_key, make_member
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.recruiting.helpers import (
    balance,
    end_the_hold,
    ledger_reasons,
    recruits,
    sign_up_and_confirm,
)
from tests.sending import factories as sending
from tests.sending.test_bounces import ARF, DSN, SECRET, _post


@dataclass
class Coop:
    id: int
    auth: dict[str, str]  # its API key, as its website's server sends it


@pytest.fixture
def coop() -> Coop:
    member = make_member("riverside")
    make_topic("food")
    _key_id, secret = make_key(member)
    return Coop(id=member.id, auth={"Authorization": f"Bearer {secret}"})


def recruit(client, smtp, run_jobs, coop: Coop, email: str) -> None:
    sign_up_and_confirm(client, smtp, run_jobs, email, headers=coop.auth)


def erase(email: str) -> None:
    with session_scope() as session:
        who = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        preferences.erase(session, subscriber=who)


def test_credits_are_granted_only_after_the_hold_and_only_once(client, smtp, run_jobs, coop):
    recruit(client, smtp, run_jobs, coop, "new@example.org")
    assert recruits() == [(coop.id, "pending", 500)]
    run_sweeps()  # the hold has not ended: nothing yet
    assert balance(coop) == 0
    end_the_hold()
    run_sweeps()
    run_sweeps()  # a second sweep finds nothing left to grant
    assert recruits() == [(coop.id, "granted", 500)]
    assert balance(coop) == 500
    assert ledger_reasons(coop) == ["Recruited a new subscriber (recruit #1)"]
    # Leaving after the grant takes nothing back.
    erase("new@example.org")
    assert balance(coop) == 500
    assert recruits() == [(coop.id, "granted", 500)]


def test_the_hold_lasts_the_configured_days(client, smtp, run_jobs, coop, monkeypatch):
    monkeypatch.setattr(get_settings(), "recruiting_hold_days", 0)
    recruit(client, smtp, run_jobs, coop, "quick@example.org")
    run_sweeps()
    assert recruits() == [(coop.id, "granted", 500)] and balance(coop) == 500


def test_erasure_during_the_hold_cancels_the_credits(client, smtp, run_jobs, coop):
    recruit(client, smtp, run_jobs, coop, "gone@example.org")
    erase("gone@example.org")
    end_the_hold()
    run_sweeps()
    assert recruits() == [(coop.id, "cancelled", 500)]
    assert balance(coop) == 0 and ledger_reasons(coop) == []


def _sent_to(smtp, run_jobs, monkeypatch, *addresses: str) -> dict[str, str]:
    """Send an issue to the recruits; their VERP return paths, by address."""
    monkeypatch.setattr(get_settings(), "bounce_webhook_secret", SECRET)
    with session_scope() as session:
        from app.subscribers.models import Topic

        food = session.exec(select(Topic).where(Topic.slug == "food")).one()
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[food])))
    run_jobs()
    smtp.clear()
    sending.start_now(issue)
    run_jobs()
    sent = {m.rcpt_tos[0]: m.mail_from for m in smtp.messages if m.message["List-Id"]}
    assert set(addresses) <= set(sent)
    return sent


def _report(client, raw: str) -> None:
    response = _post(client, raw)
    assert response.status_code == 202, response.text


def test_a_hard_bounce_or_a_complaint_during_the_hold_cancels(
    client, smtp, run_jobs, coop, monkeypatch
):
    for name in ("bouncy", "angry", "happy"):
        recruit(client, smtp, run_jobs, coop, f"{name}@example.org")
    sent = _sent_to(smtp, run_jobs, monkeypatch, "bouncy@example.org", "angry@example.org")
    _report(
        client,
        DSN.format(
            verp=sent["bouncy@example.org"],
            address="bouncy@example.org",
            action="failed",
            status="5.1.1",
            code="550",
        ),
    )
    _report(client, ARF.format(verp=sent["angry@example.org"], address="angry@example.org"))
    end_the_hold()
    run_sweeps()
    assert recruits() == [
        (coop.id, "cancelled", 500),
        (coop.id, "cancelled", 500),
        (coop.id, "granted", 500),
    ]
    assert balance(coop) == 500


def test_leaving_after_the_hold_changes_nothing(client, smtp, run_jobs, coop):
    recruit(client, smtp, run_jobs, coop, "stayed@example.org")
    end_the_hold()
    erase("stayed@example.org")  # after the hold, even before the sweep came round
    run_sweeps()
    assert recruits() == [(coop.id, "granted", 500)] and balance(coop) == 500
