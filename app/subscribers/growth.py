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

from sqlalchemy import func
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


def _joins(session: Session, since: datetime) -> dict[Key, int]:
    moment = col(ConsentEvent.occurred_at)
    if session.get_bind().dialect.name == "postgresql":
        moment = func.timezone("UTC", moment)  # the UTC day, whatever the server's zone
    day = func.date(moment)
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
    """Withdrawals and erasures in the window of consents that were confirmed then."""
    ends = session.exec(
        select(ConsentEvent).where(
            col(ConsentEvent.occurred_at) >= since,
            col(ConsentEvent.scope) == ConsentScope.topic,
            col(ConsentEvent.action).in_([ConsentAction.withdrawn, ConsentAction.erased]),
        )
    ).all()
    if not ends:
        return {}
    keys = {e.subscriber_key for e in ends}
    # Those people's topic events, to know their state just before each leave.
    by_person: dict[str, list[tuple[int, int, ConsentAction]]] = defaultdict(list)
    for event_id, key, topic_id, action in session.exec(
        select(
            ConsentEvent.id, ConsentEvent.subscriber_key, ConsentEvent.topic_id, ConsentEvent.action
        )
        .where(
            col(ConsentEvent.subscriber_key).in_(keys),
            col(ConsentEvent.scope) == ConsentScope.topic,
            col(ConsentEvent.topic_id).is_not(None),
        )
        .order_by(col(ConsentEvent.id))
    ).all():
        by_person[key].append((event_id, topic_id, action))  # type: ignore[arg-type]
    leaves: dict[Key, int] = defaultdict(int)
    for end in ends:
        state: dict[int, ConsentAction] = {}
        for event_id, topic_id, action in by_person[end.subscriber_key]:
            if event_id < end.id:  # type: ignore[operator]
                state[topic_id] = action
        gone = [end.topic_id] if end.action == ConsentAction.withdrawn else list(state)
        for topic_id in gone:
            if state.get(topic_id) == ConsentAction.confirmed:  # type: ignore[arg-type]
                leaves[(topic_id, end.occurred_at.date())] += 1  # type: ignore[index]
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
