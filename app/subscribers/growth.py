"""How many people each topic had on each of the last days, from a daily rollup of the
consent ledger, so the admin overview reads a few hundred rows whatever its size.

`roll_up` keeps `topic_day` current. It integrates the consent log in log order (the
sequencer's `consent_log_entry.log_index`, dense and only ever appended, so nothing
committed late is passed over) from where it stopped (`ledger_rollup`), a page at a
time under that row's lock. A confirmation is a join unless the person was already on
the topic; a withdrawal, or an erasure, is a leave only if their last change on the
topic was a confirmation. The sequencer's actor runs it after each integration.

A topic's count now is the sum of its rollup plus the events not integrated yet (the
log past the rollup's position, and events the sequencer has not reached, found as it
finds them); earlier days are walked back from it with each day's joins and leaves.
Erasure deletes the person's subscriptions but not their events, so the days before an
erasure still count them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.consent.log import latest_checkpoint
from app.consent.models import ConsentAction, ConsentEvent, ConsentLogEntry, ConsentScope
from app.db import utcnow
from app.subscribers.models import (
    LedgerRollup,
    Topic,
    TopicDay,
)

Key = tuple[int, date]  # (topic id, day)
ROLLUP = "topic_day"  # its row in ledger_rollup


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


def _last_change(end: Any) -> Any:
    """The person's last change of state on the topic before `end`: confirmed or
    withdrawn (requests change nothing until confirmed; None: never confirmed)."""
    before = aliased(ConsentEvent)
    return (
        select(before.action)
        .where(
            before.subscriber_key == end.subscriber_key,
            before.topic_id == end.topic_id,
            before.scope == ConsentScope.topic,
            before.action.in_([ConsentAction.confirmed, ConsentAction.withdrawn]),  # type: ignore[attr-defined]
            before.id < end.id,
        )
        .order_by(before.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _joins(session: Session, window: Any) -> dict[Key, int]:
    """Confirmations of people who were not on the topic then (a second confirmation of
    an active subscription, after a new request, changes no count)."""
    end = aliased(ConsentEvent)
    day = _utc_day(session, end.occurred_at)
    previous = _last_change(end)
    rows = session.exec(
        select(end.topic_id, day, func.count())
        .join(window, window.c.event_id == end.id)
        .where(
            end.scope == ConsentScope.topic,
            end.action == ConsentAction.confirmed,
            end.topic_id.is_not(None),  # type: ignore[union-attr]
            or_(previous.is_(None), previous == ConsentAction.withdrawn),
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
    withdrawn = session.exec(
        select(end.topic_id, day, func.count())
        .join(window, window.c.event_id == end.id)
        .where(
            end.scope == ConsentScope.topic,
            end.action == ConsentAction.withdrawn,
            end.topic_id.is_not(None),  # type: ignore[union-attr]
            _last_change(end) == ConsentAction.confirmed,
        )
        .group_by(end.topic_id, day)
    ).all()
    # An erasure leaves every topic whose last change before it was a confirmation.
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
                later.action.in_([ConsentAction.confirmed, ConsentAction.withdrawn]),  # type: ignore[attr-defined]
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


def _tail(session: Session, seq: int) -> Any:
    """The events the rollup has not integrated yet: those in the log from its position
    on, and those the sequencer has not reached (it looks no further back than its
    checkpoint's `scan_from`, nor need we)."""
    checkpoint = latest_checkpoint(session)
    unsequenced = (
        select(col(ConsentEvent.id).label("event_id"))
        .outerjoin(ConsentLogEntry, col(ConsentLogEntry.event_id) == col(ConsentEvent.id))
        .where(col(ConsentLogEntry.event_id).is_(None))
    )
    if checkpoint is not None and checkpoint.scan_from is not None:
        unsequenced = unsequenced.where(col(ConsentEvent.occurred_at) >= checkpoint.scan_from)
    logged = select(col(ConsentLogEntry.event_id).label("event_id")).where(
        col(ConsentLogEntry.log_index) >= seq
    )
    return union_all(logged, unsequenced).subquery("tail")


def _changes(
    session: Session, since: date
) -> tuple[dict[int, int], dict[Key, int], dict[Key, int]]:
    """Every topic's count now, and the joins and leaves of each day from `since`: the
    rollup's rows plus the events it has not integrated yet."""
    # The rollup's rows and its position must agree: a share lock on its row waits for a
    # run in progress to commit and keeps the next from starting until we are done.
    query = select(LedgerRollup).where(LedgerRollup.name == ROLLUP)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    position = session.exec(query).first()
    now: dict[int, int] = defaultdict(int)
    rows: list[TopicDay] = []
    if position is not None:  # no position: nothing rolled up, the tail is everything
        for topic_id, total in session.exec(
            select(TopicDay.topic_id, func.sum(TopicDay.joined - TopicDay.left)).group_by(
                col(TopicDay.topic_id)
            )
        ).all():
            now[topic_id] += int(total or 0)
        rows = list(session.exec(select(TopicDay).where(col(TopicDay.day) >= since)).all())
    joins: dict[Key, int] = defaultdict(int, {(r.topic_id, r.day): r.joined for r in rows})
    leaves: dict[Key, int] = defaultdict(int, {(r.topic_id, r.day): r.left for r in rows})
    tail = _tail(session, position.seq if position else 0)
    pending = list(session.exec(select(tail.c.event_id)).all())
    if not pending:  # the usual case: the rollup is up to date
        return dict(now), joins, leaves
    window = (  # a long tail (the sequencer is behind) is joined as the query it is
        select(col(ConsentEvent.id).label("event_id"))
        .where(col(ConsentEvent.id).in_(pending))
        .subquery("pending")
        if len(pending) <= 5000
        else tail
    )
    for counts, sign, into in (
        (_joins(session, window), 1, joins),
        (_leaves(session, window), -1, leaves),
    ):
        for (topic_id, day), n in counts.items():
            now[topic_id] += sign * n
            if day >= since:
                into[(topic_id, day)] += n
    return dict(now), joins, leaves


def topic_growth(
    session: Session, *, days: int = 30, limit: int = 6
) -> tuple[list[date], list[tuple[Topic, list[int]]], dict[int, int]]:
    """The last `days` days; for the `limit` largest topics their subscriber count at the
    end of each of those days; and every topic's count now."""
    today = utcnow().date()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    now, joins, leaves = _changes(session, span[1] if days > 1 else today)
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
