"""Recruiting credits: a member earns credits (the rate admins set) for each new person
who confirms through its embedded form (a signed form token) or its API key, once per
person ever.

The credits are held first: a recruit is recorded as pending when the person confirms,
and only when the holding period (`RECRUITING_HOLD_DAYS`) ends without an erasure, a
hard bounce or a complaint does the sweep grant them to the member's credit ledger
(app.payments.credits). Caps per member per UTC day, overall and per recipient domain,
stop a member from farming credits with throwaway addresses on a domain it controls.

Every decision is a conditional UPDATE on the recruit's row (pending -> granted, or
pending -> cancelled), so a grant and a cancellation, or two sweeps, can never both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.config import get_settings
from app.consent.models import ConsentEvent, ConsentScope, ConsentSource
from app.db import utcnow
from app.jobs import register_sweep
from app.payments import credits
from app.recruiting.models import RecruitCredit, RecruitingRate, RecruitStatus
from app.subscribers.models import Subscriber
from app.subscribers.suppression_keys import address_hmac, legacy_hmacs

DEFAULT_RATE = 500  # credits per recruit until an admin sets a rate
RECRUITING_SOURCES = (ConsentSource.embed, ConsentSource.api)
GRANT_BATCH = 500
RECRUITING_LOCK_SPACE = 0x52435254  # "RCRT": the first key of our advisory locks per member


def rate(session: Session) -> int:
    latest = session.exec(select(RecruitingRate).order_by(col(RecruitingRate.id).desc())).first()
    return latest.amount if latest else DEFAULT_RATE


def set_rate(session: Session, *, amount: int, account_id: int | None) -> None:
    if amount < 0 or amount > 1_000_000:
        raise ValueError("give a whole number of credits between 0 and 1,000,000")
    session.add(RecruitingRate(amount=amount, set_by=account_id))
    session.flush()


def domain_hmac(email: str) -> str:
    """The recipient domain, keyed like a suppression: countable, never readable. The
    leading "@" keeps it apart from any address's HMAC."""
    return address_hmac("@" + email.rsplit("@", 1)[-1])


def _person_hmacs(session: Session, subscriber: Subscriber) -> list[str]:
    """The person's address HMAC, and its legacy forms: a recruit recorded before the
    dedicated suppression pepper carries one of those."""
    return [subscriber.address_hmac, *legacy_hmacs(session, subscriber.email)]


def _recruiting_member(subscriber: Subscriber, confirmed: Sequence[ConsentEvent]) -> int | None:
    """The member whose form token or API key brought this person, if a topic consent
    asked for through it is among those just confirmed."""
    member_id = subscriber.source_member_id
    if member_id is None:
        return None
    for event in confirmed:
        if (
            event.scope == ConsentScope.topic
            and event.source in RECRUITING_SOURCES
            and event.member_id == member_id
        ):
            return member_id
    return None


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _over_cap(session: Session, *, member_id: int, domain: str, now: datetime) -> bool:
    settings = get_settings()
    counted = (
        select(func.count())
        .select_from(RecruitCredit)
        .where(
            RecruitCredit.member_id == member_id,
            col(RecruitCredit.confirmed_at) >= _start_of_day(now),
            RecruitCredit.status != RecruitStatus.over_cap,
        )
    )
    if settings.recruiting_cap_per_day and (
        session.exec(counted).one() >= settings.recruiting_cap_per_day
    ):
        return True
    return bool(settings.recruiting_cap_per_domain_per_day) and (
        session.exec(counted.where(RecruitCredit.domain_hmac == domain)).one()
        >= settings.recruiting_cap_per_domain_per_day
    )


def _lock_member_recruiting(session: Session, member_id: int) -> None:
    """Counting against the caps and inserting happen under this lock (until commit), so
    simultaneous confirmations for one member cannot all slip under a cap. An advisory
    lock rather than the member's row: inserting a consent event or a recruit takes a
    key-share lock on that row, and upgrading it would deadlock two confirmations.
    SQLite serialises writers anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :member)"),
            {"space": RECRUITING_LOCK_SPACE, "member": member_id},
        )


def hold_for_confirmation(
    session: Session, *, subscriber: Subscriber, confirmed: Sequence[ConsentEvent]
) -> RecruitCredit | None:
    """Record a new recruit as pending (or over the cap) the first time a topic consent
    asked for through a member's form token or API key is confirmed; never again for
    the same address, whoever brings it."""
    member_id = _recruiting_member(subscriber, confirmed)
    if member_id is None:
        return None
    if session.exec(
        select(RecruitCredit.id).where(
            col(RecruitCredit.address_hmac).in_(_person_hmacs(session, subscriber))
        )
    ).first():
        return None
    _lock_member_recruiting(session, member_id)
    now = utcnow()
    domain = domain_hmac(subscriber.email)
    over = _over_cap(session, member_id=member_id, domain=domain, now=now)
    recruit = RecruitCredit(
        address_hmac=subscriber.address_hmac,
        domain_hmac=domain,
        member_id=member_id,
        amount=0 if over else rate(session),
        status=RecruitStatus.over_cap if over else RecruitStatus.pending,
        confirmed_at=now,
        matures_at=now + timedelta(days=get_settings().recruiting_hold_days),
    )
    try:
        with session.begin_nested():  # the same person confirmed twice at once: one row
            session.add(recruit)
    except IntegrityError:
        return None
    return recruit


def cancel(session: Session, *, subscriber: Subscriber, reason: str) -> bool:
    """The recruit left during the hold (erased, bounced hard, complained): its credits
    are never granted. After the hold nothing changes. True if this cancelled them."""
    now = utcnow()
    result = session.execute(
        update(RecruitCredit)
        .where(
            col(RecruitCredit.address_hmac).in_(_person_hmacs(session, subscriber)),
            col(RecruitCredit.status) == RecruitStatus.pending,
            col(RecruitCredit.matures_at) > now,
        )
        .values(status=RecruitStatus.cancelled, cancelled_at=now, cancel_reason=reason[:40])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def grant_matured(session: Session, *, limit: int = GRANT_BATCH) -> int:
    """Grant the credits of recruits whose hold has ended; returns how many. Safe to run
    on any number of processes at once: rows another sweep holds are skipped, and each
    grant is a conditional pending -> granted update, so a recruit earns exactly once."""
    now = utcnow()
    due = session.exec(
        select(RecruitCredit.id)
        .where(
            RecruitCredit.status == RecruitStatus.pending,
            col(RecruitCredit.matures_at) <= now,
        )
        .order_by(col(RecruitCredit.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    granted = 0
    for recruit_id in due:
        won = session.execute(
            update(RecruitCredit)
            .where(
                col(RecruitCredit.id) == recruit_id,
                col(RecruitCredit.status) == RecruitStatus.pending,
            )
            .values(status=RecruitStatus.granted, granted_at=now)
            .returning(col(RecruitCredit.member_id), col(RecruitCredit.amount))
        ).first()
        if won is None:
            continue
        granted += 1
        member_id, amount = won
        if amount:
            entry = credits.add(
                session,
                member_id=member_id,
                amount=amount,
                reason=f"Recruited a new subscriber (recruit #{recruit_id})",
            )
            session.execute(
                update(RecruitCredit)
                .where(col(RecruitCredit.id) == recruit_id)
                .values(credit_entry_id=entry.id)
            )
    return granted


@register_sweep("recruiting")
def sweep_recruiting(session: Session) -> None:
    grant_matured(session)


# What members and admins see --------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    count: int = 0
    credits: int = 0


def tallies(session: Session, *, member_id: int | None = None) -> dict[tuple[int, str], Tally]:
    """(member id, status) -> how many recruits and how many credits, for one member or all."""
    query = select(
        RecruitCredit.member_id,
        RecruitCredit.status,
        func.count(),
        func.coalesce(func.sum(RecruitCredit.amount), 0),
    ).group_by(col(RecruitCredit.member_id), col(RecruitCredit.status))
    if member_id is not None:
        query = query.where(RecruitCredit.member_id == member_id)
    return {
        (row[0], str(row[1])): Tally(count=int(row[2]), credits=int(row[3]))
        for row in session.exec(query).all()
    }


def recent(
    session: Session, *, member_id: int | None = None, limit: int = 100
) -> list[RecruitCredit]:
    query = select(RecruitCredit).order_by(col(RecruitCredit.id).desc()).limit(limit)
    if member_id is not None:
        query = query.where(RecruitCredit.member_id == member_id)
    return list(session.exec(query).all())
