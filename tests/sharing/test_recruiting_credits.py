"""Recruiting credits: earned once per person ever for a confirmation through a member's
embedded form or API key, reversed on erasure within 30 days, spent on a slot."""

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from app.consent.models import ConsentSource
from app.db import session_scope, utcnow
from app.payments import credits
from app.payments.models import CreditEntry
from app.sharing.credits import DEFAULT_RATE
from app.sharing.models import RecruitCredit
from app.subscribers import preferences
from app.subscribers.models import Subscriber
from tests.members.factories import log_in, make_account, make_key, make_member
from tests.newsletters.factories import make_topic
from tests.sharing.helpers import person


def balance(member) -> int:
    with session_scope() as session:
        return credits.balance(session, member_id=member.id)


def erase(email: str) -> None:
    with session_scope() as session:
        who = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        preferences.erase(session, subscriber=who)


def test_credits_are_earned_once_per_person_and_reversed_on_erasure(run_jobs):
    coop = make_member("riverside")
    topic = make_topic("food")
    person("new@example.org", [topic], sharing=False, source=ConsentSource.embed, member=coop)
    assert balance(coop) == DEFAULT_RATE
    # Confirming more topics later earns nothing more.
    other = make_topic("housing")
    person("new@example.org", [other], sharing=False, source=ConsentSource.api, member=coop)
    assert balance(coop) == DEFAULT_RATE
    # Not through a member: nothing.
    person("walk-in@example.org", [topic], sharing=False)
    assert balance(coop) == DEFAULT_RATE

    erase("new@example.org")  # within 30 days
    assert balance(coop) == 0
    with session_scope() as session:
        reasons = [
            e.reason for e in session.exec(select(CreditEntry).order_by(CreditEntry.id)).all()
        ]
    assert reasons[0].startswith("Recruited a new subscriber")
    assert "reversed within 30 days: erased" in reasons[1]


def test_a_person_who_comes_back_after_erasure_earns_nothing_again(run_jobs):
    coop = make_member("riverside")
    topic = make_topic("food")
    person("back@example.org", [topic], sharing=False, source=ConsentSource.embed, member=coop)
    erase("back@example.org")
    assert balance(coop) == 0
    # The erasure suppressed the address; even were it lifted, the record holds.
    with session_scope() as session:
        assert session.exec(select(RecruitCredit)).one().reversed_at is not None


def test_no_reversal_after_30_days(run_jobs):
    coop = make_member("riverside")
    topic = make_topic("food")
    person("old@example.org", [topic], sharing=False, source=ConsentSource.embed, member=coop)
    with session_scope() as session:
        session.execute(update(RecruitCredit).values(earned_at=utcnow() - timedelta(days=31)))
    erase("old@example.org")
    assert balance(coop) == DEFAULT_RATE


def test_earned_credits_pay_for_a_slot_and_the_ledger_shows_why(client, run_jobs):
    from tests.marketplace.factories import make_slots

    coop = make_member("riverside")
    owner = make_account("owner@riverside.example.org", member=coop)
    _key_id, secret = make_key(coop)
    topic = make_topic("food")
    with session_scope() as session:
        from app.sharing import credits as recruiting

        recruiting.set_rate(session, amount=12_500, account_id=None)
    person("one@example.org", [topic], sharing=False, source=ConsentSource.api, member=coop)
    person("two@example.org", [topic], sharing=False, source=ConsentSource.embed, member=coop)
    assert balance(coop) == 25_000
    _issue, slots = make_slots()
    auth = {"Authorization": f"Bearer {secret}"}
    booking = client.post("/api/v1/bookings", json={"slot_id": slots[0].id}, headers=auth).json()
    paid = client.post(
        f"/api/v1/bookings/{booking['id']}/payment", json={"method": "credits"}, headers=auth
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert balance(coop) == 0
    log_in(client, owner)
    page = client.get("/member/credits")
    assert page.status_code == 200
    assert page.text.count("Recruited a new subscriber") == 2 and "+12,500" in page.text
