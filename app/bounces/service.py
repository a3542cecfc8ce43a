"""What a bounce or complaint does: store the report (redacted), mark the message it
concerns, and suppress by documented thresholds (README): a hard bounce suppresses the
address at once; soft bounces after SOFT_BOUNCE_LIMIT within SOFT_BOUNCE_WINDOW_DAYS; a
complaint suppresses it and withdraws the person's consent to the newsletter's topics.

Reports keep no address: addresses in a stored diagnostic or an unreadable report are
replaced before it is written, and an unreadable report's text is purged after the
transactional retention time.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from app.config import get_settings
from app.db import utcnow
from app.jobs import register_sweep
from app.mailing.models import TransactionalEmail
from app.metrics import BOUNCE_REPORTS, count_after_commit
from app.sending import complaints
from app.sending.models import BounceReport, Delivery, DeliveryStatus
from app.subscribers.models import Subscriber
from app.subscribers.service import subscriber_by_email, suppress

from .reports import ParsedReport, UnreadableReport, parse

__all__ = ["UnreadableReport", "apply", "process", "record_unreadable"]

ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+")


def redact(text: str) -> str:
    """Every address in `text` replaced: a stored report names nobody."""
    return ADDRESS.sub("<address>", text)


def record_unreadable(session: Session, raw: bytes, reason: str) -> BounceReport:
    text = raw[:200_000].decode("utf-8", "replace")
    report = BounceReport(kind="unparsed", detail=redact(reason)[:500], raw=redact(text))
    session.add(report)
    session.flush()
    return report


def _soft_bounces_since(session: Session, subscriber: Subscriber) -> int:
    since = utcnow() - timedelta(days=get_settings().soft_bounce_window_days)
    return session.execute(
        select(func.count())
        .select_from(BounceReport)
        .join(Delivery, col(Delivery.id) == col(BounceReport.delivery_id))
        .where(
            col(Delivery.subscriber_id) == subscriber.id,
            col(BounceReport.kind) == "soft",
            col(BounceReport.received_at) >= since,
        )
    ).scalar_one()


def _apply_to_transactional(session: Session, parsed: ParsedReport, email_id: int) -> BounceReport:
    """A confirmation or login mail bounced: a hard bounce or a complaint suppresses the
    address (it does not exist, or its owner never asked); a soft one is only noted."""
    email = session.get(TransactionalEmail, email_id)
    report = BounceReport(
        kind=parsed.kind,
        transactional_id=email.id if email else None,
        status_code=parsed.status,
        detail=redact(parsed.detail)[:500],
    )
    session.add(report)
    if email is not None and parsed.kind in ("hard", "complaint"):
        reason = "hard-bounce" if parsed.kind == "hard" else "complaint"
        subscriber = subscriber_by_email(session, email.to_address)
        if subscriber is not None:
            complaints.suppress_subscriber(session, subscriber, reason)
        else:
            suppress(session, email.to_address, reason)
    session.flush()
    return report


def apply(session: Session, parsed: ParsedReport) -> BounceReport:
    """Store the report and act on it: suppress, withdraw consent, mark the delivery."""
    if parsed.target is None:
        raise UnreadableReport("the report does not name a message we sent (no VERP match)")
    kind, ident = parsed.target
    if kind == "t":
        return _apply_to_transactional(session, parsed, ident)
    delivery = session.get(Delivery, ident)
    if delivery is None:
        raise UnreadableReport("the report names a delivery we do not have")
    report = BounceReport(
        kind=parsed.kind,
        delivery_id=delivery.id,
        status_code=parsed.status,
        detail=redact(parsed.detail)[:500],
    )
    session.add(report)
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if parsed.kind == "hard":
        delivery.status = DeliveryStatus.bounced
        if subscriber is not None:
            complaints.suppress_subscriber(session, subscriber, "hard-bounce")
    elif parsed.kind == "complaint":
        delivery.status = DeliveryStatus.complained
        if subscriber is not None:
            complaints.complaint(session, subscriber, delivery)
    elif parsed.kind == "soft" and subscriber is not None:
        session.flush()
        if _soft_bounces_since(session, subscriber) >= get_settings().soft_bounce_limit:
            complaints.suppress_subscriber(session, subscriber, "soft-bounces")
    session.flush()
    return report


def process(session: Session, raw: bytes) -> BounceReport:
    """Parse and apply one report; an unreadable one is stored (redacted) and re-raised."""
    try:
        report = apply(session, parse(raw))
    except UnreadableReport as exc:
        record_unreadable(session, raw, str(exc))
        count_after_commit(session, BOUNCE_REPORTS, "unreadable")
        raise
    count_after_commit(session, BOUNCE_REPORTS, report.kind)
    return report


@register_sweep("bounce-reports")
def purge_unreadable(session: Session) -> None:
    """Unreadable reports were kept for a person to read; after the retention time
    their text goes (the row, with its reason, stays for the counts)."""
    keep = timedelta(days=get_settings().transactional_retention_days)
    session.execute(
        update(BounceReport)
        .where(col(BounceReport.raw).is_not(None), col(BounceReport.received_at) < utcnow() - keep)
        .values(raw=None)
    )
