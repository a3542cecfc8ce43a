"""What happened to one sent issue, for the Club's admins: delivered, failed, bounced,
complaints, unsubscribes that followed it and clicks per sponsored link (counts only),
and the same over time. Everything is counted from the send ledger (`delivery`), the
bounce reports, the consent ledger and the aggregate click counts; nothing here is
about one person.

Unsubscribes that followed: an issue's unsubscribe link does not say which issue it
came from, so we count the recipients of this issue who withdrew one of its
newsletter's topics themselves (from a link or the preference centre) within
`UNSUBSCRIBE_WINDOW` of receiving it. Complaints withdraw too; they are counted as
complaints, not here. People who erased themselves since are gone from both sides
and cannot be counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentSource
from app.db import utcnow
from app.marketplace.models import Booking, BookingStatus, ClickCount, Creative, Slot
from app.members.models import Member
from app.newsletters.models import Issue, NewsletterTopic
from app.sending.assembly import progress
from app.sending.models import BounceReport, Delivery, DeliveryStatus
from app.subscribers.models import Subscriber

UNSUBSCRIBE_WINDOW = timedelta(days=7)
# Over time: hour by hour for the first two days, then day by day.
HOURLY_UNTIL = timedelta(hours=48)
RECEIVED = (DeliveryStatus.sent, DeliveryStatus.bounced, DeliveryStatus.complained)


@dataclass(frozen=True)
class LinkClicks:
    member: str
    headline: str
    link: str
    clicks: int


@dataclass(frozen=True)
class Timeline:
    """Running totals at the end of each step (an hour or a day) since sending began."""

    steps: list[datetime]
    hourly: bool
    lines: dict[str, list[int]]


@dataclass(frozen=True)
class IssueReport:
    recipients: int  # deliveries that were due (everything but skipped and cancelled)
    delivered: int  # accepted by the receiving server, no bounce or complaint since
    failed: int  # refused for good while sending
    bounced: int  # accepted, then a hard bounce came back
    soft_bounced: int  # a temporary failure was reported (the address is kept)
    complaints: int
    unsubscribes: int
    skipped: int  # no longer eligible when their batch ran
    links: list[LinkClicks]
    timeline: Timeline | None

    @property
    def clicks(self) -> int:
        return sum(link.clicks for link in self.links)


def _unsubscribe_times(session: Session, issue: Issue) -> list[datetime]:
    """When each recipient who unsubscribed after receiving the issue first did so."""
    if issue.send_started_at is None:
        return []
    topics = select(NewsletterTopic.topic_id).where(
        NewsletterTopic.newsletter_id == issue.newsletter_id
    )
    started = _aware(issue.send_started_at)
    rows = session.execute(
        select(Delivery.id, Delivery.sent_at, ConsentEvent.occurred_at)
        .select_from(ConsentEvent)
        .join(Subscriber, col(Subscriber.key) == col(ConsentEvent.subscriber_key))
        .join(
            Delivery,
            (col(Delivery.subscriber_id) == col(Subscriber.id))
            & (col(Delivery.issue_id) == issue.id),
        )
        .where(
            # The withdrawals of the weeks after sending began (the occurred_at index),
            # each looked up in this issue's deliveries by its unique key.
            col(ConsentEvent.occurred_at) >= started,
            col(ConsentEvent.occurred_at) < started + UNSUBSCRIBE_WINDOW * 2,
            col(ConsentEvent.scope) == ConsentScope.topic,
            col(ConsentEvent.action) == ConsentAction.withdrawn,
            col(ConsentEvent.source) == ConsentSource.form,
            col(ConsentEvent.token_digest).is_not(None),  # their own link, not a complaint
            col(ConsentEvent.topic_id).in_(topics),
            col(Delivery.status).in_([DeliveryStatus.sent, DeliveryStatus.bounced]),
        )
    ).all()
    first: dict[int, datetime] = {}
    for delivery_id, sent_at, occurred_at in rows:
        if sent_at is None:
            continue
        at, received = _aware(occurred_at), _aware(sent_at)
        if received <= at < received + UNSUBSCRIBE_WINDOW:
            first[delivery_id] = min(at, first.get(delivery_id, at))
    return sorted(first.values())


def _aware(moment: Any) -> datetime:
    if isinstance(moment, str):  # SQLite can hand back text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _soft_bounced(session: Session, issue_id: int) -> int:
    return int(
        session.exec(
            select(func.count()).select_from(
                select(BounceReport.delivery_id)
                .join(Delivery, col(Delivery.id) == col(BounceReport.delivery_id))
                .where(col(Delivery.issue_id) == issue_id, col(BounceReport.kind) == "soft")
                .distinct()
                .subquery()
            )
        ).one()
    )


def _links(session: Session, issue_id: int) -> list[LinkClicks]:
    """Every sponsored link placed in the issue, with its clicks (0 until one comes)."""
    rows = session.exec(
        select(Member.name, Creative.headline, Creative.link, ClickCount.clicks)
        .select_from(Slot)
        .join(Booking, col(Booking.slot_id) == col(Slot.id))
        .join(Creative, col(Creative.booking_id) == col(Booking.id))
        .join(Member, col(Member.id) == col(Booking.member_id))
        .outerjoin(
            ClickCount,
            (col(ClickCount.creative_id) == col(Creative.id))
            & (col(ClickCount.issue_id) == issue_id),
        )
        .where(
            col(Slot.issue_id) == issue_id,
            col(Booking.status).in_([BookingStatus.placed, BookingStatus.sent]),
        )
        .order_by(col(Slot.position))
    ).all()
    return [LinkClicks(m, h, link, int(n or 0)) for m, h, link, n in rows]


def _timeline(session: Session, issue: Issue, unsubscribed: list[datetime]) -> Timeline | None:
    if issue.send_started_at is None:
        return None
    start = _aware(issue.send_started_at).replace(minute=0, second=0, microsecond=0)
    end = utcnow()
    hourly = end - start <= HOURLY_UNTIL
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    if not hourly:
        start = start.replace(hour=0)
        end = min(end, start + UNSUBSCRIBE_WINDOW * 2)
    # From the start (nothing yet) to the end of the step now in progress.
    steps = [start + step * i for i in range(max(1, -(-(end - start) // step)) + 1)]
    delivered = session.exec(
        select(Delivery.sent_at).where(
            col(Delivery.issue_id) == issue.id,
            col(Delivery.status).in_(RECEIVED),
            col(Delivery.sent_at).is_not(None),
        )
    ).all()
    reports = session.exec(
        select(BounceReport.kind, BounceReport.received_at)
        .join(Delivery, col(Delivery.id) == col(BounceReport.delivery_id))
        .where(col(Delivery.issue_id) == issue.id)
    ).all()

    def running(moments: list[Any]) -> list[int]:
        times = sorted(_aware(m) for m in moments)
        counts, i = [], 0
        for edge in steps:
            while i < len(times) and times[i] < edge:
                i += 1
            counts.append(i)
        return counts

    return Timeline(
        steps=steps,
        hourly=hourly,
        lines={
            "Accepted by the receiving server": running(list(delivered)),
            "Bounced": running([at for kind, at in reports if kind == "hard"]),
            "Complaints": running([at for kind, at in reports if kind == "complaint"]),
            "Unsubscribed": running(list(unsubscribed)),
        },
    )


def issue_report(session: Session, issue: Issue) -> IssueReport:
    counts = progress(session, issue.id or 0)
    unsubscribed = _unsubscribe_times(session, issue)
    return IssueReport(
        recipients=sum(counts.values()) - counts["skipped"] - counts["cancelled"],
        delivered=counts["sent"],
        failed=counts["failed"],
        bounced=counts["bounced"],
        soft_bounced=_soft_bounced(session, issue.id or 0),
        complaints=counts["complained"],
        unsubscribes=len(unsubscribed),
        skipped=counts["skipped"],
        links=_links(session, issue.id or 0),
        timeline=_timeline(session, issue, unsubscribed),
    )
