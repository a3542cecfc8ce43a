"""How many people each topic had on each of the last days, from a daily rollup.

Today's count is the number of active subscriptions (one grouped count over an index).
Earlier days are walked back from it with each day's joins and leaves, read from
`topic_day`: a few rows per topic and day, whatever the size of the ledger.

`roll_up` keeps `topic_day` current. It integrates the consent log in log order (the
sequencer's `consent_log_entry.log_index`, dense and only ever appended, so nothing
committed late is passed over) from where it stopped (`ledger_rollup`), a page at a
time under that row's lock: confirmations are joins; withdrawals and erasures are
leaves only for people whose consent was confirmed at the time. The sequencer's actor
runs it after each integration, so the past days trail the ledger by one tick at most.
Erasure deletes the person's subscriptions, so today's count already leaves them out,
and the walk back adds them to the days before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.consent.models import ConsentAction, ConsentEvent, ConsentLogEntry, ConsentScope
from app.db import utcnow
from app.subscribers.models import (
    LedgerRollup,
    Subscription,
    SubscriptionStatus,
    Topic,
    TopicDay,
)

Key = tuple[int, date]  # (topic id, day)
ROLLUP = "topic_day"  # its row in ledger_rollup


def current_counts(session: Session) -> dict[int, int]:
    """Active subscriptions per topic, now."""
    rows = session.exec(
        select(Subscription.topic_id, func.count())
        .where(col(Subscription.status) == SubscriptionStatus.active)
        .group_by(col(Subscription.topic_id))
    ).all()
    return {topic_id: int(count) for topic_id, count in rows}


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # SQLite's date() is text


def _utc_day(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        column = func.timezone("UTC", column)  # the UTC day, whatever the server's zone
    return func.date(column)


def _joins(session: Session, window: Any) -> dict[Key, int]:
    end = aliased(ConsentEvent)
    day = _utc_day(session, end.occurred_at)
    rows = session.exec(
        select(end.topic_id, day, func.count())
        .join(window, window.c.event_id == end.id)
        .where(
            end.scope == ConsentScope.topic,
            end.action == ConsentAction.confirmed,
            end.topic_id.is_not(None),  # type: ignore[union-attr]
        )
        .group_by(end.topic_id, day)
    ).all()
    return {(topic_id, _day(d)): int(n) for topic_id, d, n in rows}  # type: ignore[misc]


def _leaves(session: Session, window: Any) -> dict[Key, int]:
    """Withdrawals and erasures in the window of consents that were confirmed then,
    counted in the database (each looks up only that person's events by key)."""
    end, before = aliased(ConsentEvent), aliased(ConsentEvent)
    later = aliased(ConsentEvent)
    day = _utc_day(session, end.occurred_at)
    # A withdrawal is a leave when the person's previous event on that topic confirmed it.
    previous = (
        select(before.action)
        .where(
            before.subscriber_key == end.subscriber_key,
            before.topic_id == end.topic_id,
            before.scope == ConsentScope.topic,
            before.id < end.id,
        )
        .order_by(before.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    withdrawn = session.exec(
        select(end.topic_id, day, func.count())
        .join(window, window.c.event_id == end.id)
        .where(
            end.scope == ConsentScope.topic,
            end.action == ConsentAction.withdrawn,
            end.topic_id.is_not(None),  # type: ignore[union-attr]
            previous == ConsentAction.confirmed,
        )
        .group_by(end.topic_id, day)
    ).all()
    # An erasure leaves every topic whose last event before it was a confirmation.
    erased = session.exec(
        select(before.topic_id, day, func.count())
        .select_from(end)
        .join(window, window.c.event_id == end.id)
        .join(
            before,
            and_(
                before.subscriber_key == end.subscriber_key,
                before.scope == ConsentScope.topic,
                before.action == ConsentAction.confirmed,
                before.topic_id.is_not(None),  # type: ignore[union-attr]
                before.id < end.id,
            ),
        )
        .where(
            end.action == ConsentAction.erased,
            ~exists().where(
                later.subscriber_key == end.subscriber_key,
                later.topic_id == before.topic_id,
                later.scope == ConsentScope.topic,
                later.id > before.id,
                later.id < end.id,
            ),
        )
        .group_by(before.topic_id, day)
    ).all()
    leaves: dict[Key, int] = defaultdict(int)
    for topic_id, d, n in [*withdrawn, *erased]:
        leaves[(topic_id, _day(d))] += int(n)  # type: ignore[index]
    return leaves


def _position(session: Session) -> LedgerRollup | None:
    """The rollup's place in the log, locked for this transaction (None: another run
    holds it; it will carry on)."""
    upsert = _insert(session, LedgerRollup).values(name=ROLLUP, seq=0)
    session.execute(upsert.on_conflict_do_nothing(index_elements=["name"]))
    query = select(LedgerRollup).where(LedgerRollup.name == ROLLUP)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.exec(query).first()


def _insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def roll_up(session: Session, *, page: int = 20_000) -> bool:
    """Integrate up to `page` more log entries into `topic_day`; True when more wait.
    The caller commits (the counts and the new position together)."""
    position = _position(session)
    if position is None:
        return False
    size = session.exec(select(func.coalesce(func.max(ConsentLogEntry.log_index), -1))).one()
    upto = min(int(size) + 1, position.seq + page)
    if upto <= position.seq:
        return False
    window = (
        select(col(ConsentLogEntry.event_id).label("event_id"))
        .where(
            col(ConsentLogEntry.log_index) >= position.seq,
            col(ConsentLogEntry.log_index) < upto,
        )
        .subquery("window")
    )
    joins, leaves = _joins(session, window), _leaves(session, window)
    rows = [
        {"topic_id": key[0], "day": key[1], "joined": joins.get(key, 0), "left": leaves.get(key, 0)}
        for key in joins.keys() | leaves.keys()
    ]
    if rows:
        upsert = _insert(session, TopicDay)
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=["topic_id", "day"],
                set_={
                    "joined": TopicDay.__table__.c.joined + upsert.excluded.joined,
                    "left": TopicDay.__table__.c.left + upsert.excluded.left,
                },
            ),
            rows,
        )
    position.seq = upto
    session.add(position)
    session.flush()
    return upto <= int(size)


def _changes(session: Session, since: date) -> tuple[dict[Key, int], dict[Key, int]]:
    rows = session.exec(select(TopicDay).where(col(TopicDay.day) >= since)).all()
    joins = {(row.topic_id, row.day): row.joined for row in rows}
    leaves = {(row.topic_id, row.day): row.left for row in rows}
    return joins, leaves


def topic_growth(
    session: Session, *, days: int = 30, limit: int = 6
) -> tuple[list[date], list[tuple[Topic, list[int]]], dict[int, int]]:
    """The last `days` days; for the `limit` largest topics their subscriber count at the
    end of each of those days; and every topic's count now."""
    today = utcnow().date()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    now = current_counts(session)
    joins, leaves = _changes(session, span[1] if days > 1 else today)
    topics = {t.id: t for t in session.exec(select(Topic)).all()}
    touched = {topic_id for topic_id, _ in joins} | {topic_id for topic_id, _ in leaves}
    candidates = [tid for tid in set(now) | touched if tid in topics]
    largest = sorted(candidates, key=lambda tid: (-now.get(tid, 0), tid))[:limit]
    series = []
    for topic_id in largest:
        values = [0] * days
        count = now.get(topic_id, 0)
        for index in range(days - 1, -1, -1):
            values[index] = count
            day = span[index]
            count += leaves.get((topic_id, day), 0) - joins.get((topic_id, day), 0)
        series.append((topics[topic_id], values))
    if all(not any(values) for _, values in series):
        series = []
    return span, series, now
