"""How many people each topic had on each day, read back from the consent ledger.

The ledger is the history (subscriptions only hold the present), so the counts are
exactly what people confirmed and withdrew, day by day, in UTC.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, col, select

from app.consent.models import ConsentAction, ConsentEvent, ConsentScope
from app.db import utcnow
from app.subscribers.models import Topic

JOINS = {ConsentAction.confirmed}
LEAVES = {ConsentAction.withdrawn, ConsentAction.erased}


def topic_growth(
    session: Session, *, days: int = 30, limit: int = 6
) -> tuple[list[date], list[tuple[Topic, list[int]]]]:
    """The last `days` days, and for the `limit` largest topics their subscriber count at
    the end of each of those days."""
    today = utcnow().date()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    rows = session.exec(
        select(
            ConsentEvent.topic_id,
            ConsentEvent.subscriber_key,
            ConsentEvent.action,
            ConsentEvent.occurred_at,
        )
        .where(
            col(ConsentEvent.scope) == ConsentScope.topic,
            col(ConsentEvent.topic_id).is_not(None),
            col(ConsentEvent.action).in_(JOINS | LEAVES),
        )
        .order_by(col(ConsentEvent.id))
    ).all()
    members: dict[int, set[str]] = {}
    counts: dict[int, list[int]] = {}
    day_index = 0
    for topic_id, key, action, occurred_at in rows:
        when = occurred_at.date()
        # Close the days that ended before this event, carrying each count forward.
        while day_index < days and span[day_index] < when:
            for tid, people in members.items():
                counts.setdefault(tid, [0] * days)[day_index] = len(people)
            day_index += 1
        people = members.setdefault(topic_id, set())
        if action in JOINS:
            people.add(key)
        else:
            people.discard(key)
    for index in range(day_index, days):
        for tid, people in members.items():
            counts.setdefault(tid, [0] * days)[index] = len(people)
    topics = {t.id: t for t in session.exec(select(Topic)).all()}
    largest = sorted(
        (tid for tid in counts if tid in topics), key=lambda tid: (-counts[tid][-1], tid)
    )[:limit]
    return span, [(topics[tid], counts[tid]) for tid in largest]
