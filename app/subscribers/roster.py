"""The admins' view of the people on the lists: a filtered, keyset-paged list, one
person's record, and the suppression counts.

Built to stay fast at a million subscribers: every page is one indexed range scan that
stops after a page of rows (never OFFSET, never a count of the whole table). An address
search walks the email index in address order; every other view walks ids newest first,
driven by the index that matches its filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, text
from sqlmodel import Session, col, select

from app.consent.models import ConsentAction, ConsentEvent
from app.members.models import Account, Member
from app.subscribers.models import (
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Topic,
)
from app.subscribers.service import InvalidAddress, normalise_email

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; every field optional."""

    q: str = ""  # a whole address (exact) or its beginning (prefix)
    topic_id: int | None = None
    status: SubscriptionStatus | None = None  # of the topic's subscription, or of any
    source_member_id: int | None = None
    suppressed: bool | None = None

    @classmethod
    def from_query(cls, params: Any) -> Filters:
        def number(name: str) -> int | None:
            value = str(params.get(name) or "").strip()
            return int(value) if value.isdigit() else None

        status = str(params.get("status") or "")
        suppressed = str(params.get("suppressed") or "")
        return cls(
            q=str(params.get("q") or "").strip().lower()[:320],
            topic_id=number("topic"),
            status=SubscriptionStatus(status)
            if status in {s.value for s in SubscriptionStatus}
            else None,
            source_member_id=number("member"),
            suppressed={"yes": True, "no": False}.get(suppressed),
        )

    def query_params(self) -> dict[str, str]:
        """The filters as URL query parameters (for links to the next page, the export)."""
        params = {
            "q": self.q,
            "topic": str(self.topic_id or ""),
            "status": self.status.value if self.status else "",
            "member": str(self.source_member_id or ""),
            "suppressed": {True: "yes", False: "no"}.get(self.suppressed, ""),  # type: ignore[arg-type]
        }
        return {k: v for k, v in params.items() if v}

    @property
    def exact_address(self) -> str | None:
        """The normalised address when `q` is a whole address, else None (a prefix)."""
        if "@" not in self.q or self.q.endswith("@"):
            return None
        try:
            return normalise_email(self.q)
        except InvalidAddress:
            return None


@dataclass
class Row:
    subscriber: Subscriber
    suppressed: bool


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    next_after: str | None = None  # the cursor of the next page, None on the last one


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _prefix_condition(session: Session, prefix: str) -> Any:
    """Addresses starting with `prefix`, as a range over the email index. PostgreSQL
    compares with the pattern operators its ix_subscriber_email_prefix index
    (text_pattern_ops) serves whatever the collation, and unlike LIKE they still use
    the index when the statement is prepared once and run with other values."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    email = col(Subscriber.email)
    if _on_postgres(session):
        return and_(email.op("~>=~")(prefix), email.op("~<~")(upper))
    return and_(email >= prefix, email < upper)  # SQLite compares bytes


def _after_email(session: Session, after: str) -> Any:
    email = col(Subscriber.email)
    return email.op("~>~")(after) if _on_postgres(session) else email > after


def _email_order(session: Session) -> Any:
    return text("subscriber.email USING ~<~") if _on_postgres(session) else col(Subscriber.email)


def search(session: Session, filters: Filters, *, after: str = "", limit: int = PAGE_SIZE) -> Page:
    """One page of people matching `filters`, after the cursor `after`."""
    suppressed = exists().where(col(Suppression.address_hmac) == col(Subscriber.address_hmac))
    query = select(Subscriber, suppressed.label("suppressed"))
    if filters.q:
        # Address order, so the email index yields the page (exact: at most one row).
        exact = filters.exact_address
        if exact:
            query = query.where(col(Subscriber.email) == exact)
        else:
            query = query.where(_prefix_condition(session, filters.q))
        if after:
            query = query.where(_after_email(session, after))
        query = query.order_by(_email_order(session))
        key = "email"
    elif filters.topic_id is not None:
        # The topic's subscriptions by subscriber id, newest first, from
        # ix_subscription_topic_id_status_subscriber_id (or the topic/subscriber index).
        query = query.join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        query = query.where(col(Subscription.topic_id) == filters.topic_id)
        if filters.status is not None:
            query = query.where(col(Subscription.status) == filters.status)
        if after.isdigit():
            query = query.where(col(Subscription.subscriber_id) < int(after))
        query = query.order_by(col(Subscription.subscriber_id).desc())
        key = "id"
    else:
        if filters.source_member_id is not None:
            query = query.where(col(Subscriber.source_member_id) == filters.source_member_id)
        if after.isdigit():
            query = query.where(col(Subscriber.id) < int(after))
        query = query.order_by(col(Subscriber.id).desc())
        key = "id"
    if (filters.q or filters.topic_id is not None) and filters.source_member_id is not None:
        query = query.where(col(Subscriber.source_member_id) == filters.source_member_id)
    if filters.status is not None and filters.topic_id is None:
        query = query.where(
            exists().where(
                col(Subscription.subscriber_id) == col(Subscriber.id),
                col(Subscription.status) == filters.status,
            )
        )
    if filters.suppressed is not None:
        query = query.where(suppressed if filters.suppressed else ~suppressed)
    found = session.exec(query.limit(limit + 1)).all()
    page = Page(rows=[Row(subscriber, bool(flag)) for subscriber, flag in found[:limit]])
    if len(found) > limit:
        last = page.rows[-1].subscriber
        page.next_after = last.email if key == "email" else str(last.id)
    return page


# One person -----------------------------------------------------------------------------


@dataclass
class HistoryLine:
    event: ConsentEvent
    topic: Topic | None
    member: Member | None
    actor: Account | None


def consent_history(session: Session, subscriber: Subscriber) -> list[HistoryLine]:
    """The person's consent events, newest first, with what each names."""
    events = session.exec(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_key == subscriber.key)
        .order_by(col(ConsentEvent.id).desc())
        .limit(500)
    ).all()
    topics = {t.id: t for t in session.exec(select(Topic)).all()} if events else {}
    lines = []
    for event in events:
        lines.append(
            HistoryLine(
                event=event,
                topic=topics.get(event.topic_id),  # type: ignore[arg-type]
                member=session.get(Member, event.member_id) if event.member_id else None,
                actor=session.get(Account, event.actor_account_id)
                if event.actor_account_id
                else None,
            )
        )
    return lines


def confirmed_events(lines: list[HistoryLine]) -> list[ConsentEvent]:
    """The confirmations the person can download a receipt for."""
    return [line.event for line in lines if line.event.action == ConsentAction.confirmed]


def suppression_counts(session: Session) -> list[tuple[str, int]]:
    """How many addresses are suppressed for each reason, most first."""
    rows = session.exec(
        select(Suppression.reason, func.count())
        .group_by(col(Suppression.reason))
        .order_by(func.count().desc(), col(Suppression.reason))
    ).all()
    return [(reason, int(count)) for reason, count in rows]
