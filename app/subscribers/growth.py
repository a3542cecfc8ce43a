"""How many people each topic had on each of the last days, from aggregate queries.

Today's count is the number of active subscriptions (one grouped count over an index).
Earlier days are walked back from it with each day's changes, read from the consent
ledger for the window only (its `occurred_at` index): confirmations are joins;
withdrawals and erasures are leaves only for people whose consent was confirmed at the
time. Erasure deletes the person's subscriptions, so today's count already leaves them
out, and the walk back adds them to the days before. Nothing reads the whole ledger.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.consent.models import ConsentAction, ConsentEvent, ConsentScope
from app.db import utcnow
from app.subscribers.models import Subscription, SubscriptionStatus, Topic

Key = tuple[int, date]  # (topic id, day)


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


def _joins(session: Session, since: datetime) -> dict[Key, int]:
    day = _utc_day(session, col(ConsentEvent.occurred_at))
    rows = session.exec(
        select(ConsentEvent.topic_id, day, func.count())
        .where(
            col(ConsentEvent.occurred_at) >= since,
            col(ConsentEvent.scope) == ConsentScope.topic,
            col(ConsentEvent.action) == ConsentAction.confirmed,
            col(ConsentEvent.topic_id).is_not(None),
        )
        .group_by(col(ConsentEvent.topic_id), day)
    ).all()
    return {(topic_id, _day(d)): int(n) for topic_id, d, n in rows}  # type: ignore[misc]


def _leaves(session: Session, since: datetime) -> dict[Key, int]:
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
        .where(
            end.occurred_at >= since,
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
            end.occurred_at >= since,
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


def topic_growth(
    session: Session, *, days: int = 30, limit: int = 6
) -> tuple[list[date], list[tuple[Topic, list[int]]], dict[int, int]]:
    """The last `days` days; for the `limit` largest topics their subscriber count at the
    end of each of those days; and every topic's count now."""
    today = utcnow().date()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    since = datetime.combine(span[1] if days > 1 else today, time.min, tzinfo=UTC)
    now = current_counts(session)
    joins, leaves = _joins(session, since), _leaves(session, since)
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
