"""Recruiting credits: a member earns credits (the rate admins set) for each new person
confirmed through its embedded form or API key, once per person ever; an erasure, hard
bounce or complaint within 30 days reverses them. Entries go to the append-only credit
ledger (app.payments.credits); RecruitCredit remembers who already earned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta

from sqlmodel import Session, col, select

from app.consent.models import ConsentEvent, ConsentScope, ConsentSource
from app.db import utcnow
from app.payments import credits
from app.sharing.models import RecruitCredit, RecruitingRate
from app.subscribers.models import Subscriber
from app.subscribers.suppression_keys import legacy_hmacs

DEFAULT_RATE = 500  # credits per recruit until an admin sets a rate
REVERSAL_WINDOW = timedelta(days=30)
RECRUITING_SOURCES = (ConsentSource.embed, ConsentSource.api)


def rate(session: Session) -> int:
    latest = session.exec(select(RecruitingRate).order_by(col(RecruitingRate.id).desc())).first()
    return latest.amount if latest else DEFAULT_RATE


def set_rate(session: Session, *, amount: int, account_id: int | None) -> None:
    if amount < 0 or amount > 1_000_000:
        raise ValueError("give a whole number of credits between 0 and 1,000,000")
    session.add(RecruitingRate(amount=amount, set_by=account_id))
    session.flush()


def earn_for_confirmation(
    session: Session, *, subscriber: Subscriber, confirmed: Sequence[ConsentEvent]
) -> RecruitCredit | None:
    """Credit the member whose form or key brought this person to the Club, the first
    time a topic consent of theirs is confirmed (never again for the same address)."""
    member_id = subscriber.source_member_id
    if member_id is None or not any(
        e.scope == ConsentScope.topic
        and e.source in RECRUITING_SOURCES
        and e.member_id == member_id
        for e in confirmed
    ):
        return None
    if session.exec(
        select(RecruitCredit.id).where(
            # A credit earned before the dedicated pepper, for a person since erased and
            # back, still carries the legacy HMAC.
            col(RecruitCredit.address_hmac).in_(
                [subscriber.address_hmac, *legacy_hmacs(session, subscriber.email)]
            )
        )
    ).first():
        return None
    amount = rate(session)
    record = RecruitCredit(address_hmac=subscriber.address_hmac, member_id=member_id, amount=amount)
    session.add(record)
    session.flush()
    if amount:
        credits.add(
            session,
            member_id=member_id,
            amount=amount,
            reason=f"Recruited a new subscriber (recruit #{record.id})",
        )
    return record


def reverse(session: Session, *, subscriber: Subscriber, reason: str) -> RecruitCredit | None:
    """Take the credit back if the recruit leaves this way within 30 days (once)."""
    record = session.exec(
        select(RecruitCredit).where(RecruitCredit.address_hmac == subscriber.address_hmac)
    ).first()
    if record is None or record.reversed_at is not None:
        return None
    earned = record.earned_at if record.earned_at.tzinfo else record.earned_at.replace(tzinfo=UTC)
    if utcnow() - earned > REVERSAL_WINDOW:
        return None
    record.reversed_at, record.reversal_reason = utcnow(), reason[:40]
    if record.amount:
        credits.add(
            session,
            member_id=record.member_id,
            amount=-record.amount,
            reason=f"Recruit #{record.id} reversed within 30 days: {reason}",
        )
    session.flush()
    return record
