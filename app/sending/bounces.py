"""Bounces (RFC 3464 delivery status notifications) and complaints (RFC 5965 ARF
reports), parsed with the standard library's email package and matched to the
Delivery they concern through our VERP return path.

Thresholds (documented in the README): a hard bounce suppresses the address at once;
soft bounces suppress it after SOFT_BOUNCE_LIMIT within SOFT_BOUNCE_WINDOW_DAYS; a
complaint suppresses it and withdraws the person's consent to the newsletter's topics.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage, Message

from sqlalchemy import func, select
from sqlmodel import Session, col

from app.config import get_settings
from app.db import utcnow
from app.mailing.verp import delivery_from_verp
from app.sending.models import BounceReport, Delivery, DeliveryStatus
from app.subscribers.models import Subscriber

MAX_REPORT_BYTES = 5_000_000  # one DSN or ARF report, with the message it returns
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Return-Path")


@dataclass(frozen=True)
class ParsedReport:
    kind: str  # hard, soft, complaint
    delivery_id: int | None
    status: str | None
    detail: str


class UnreadableReport(ValueError):
    """Not a DSN or ARF report we can read, or not about a message we sent."""


def _verp_in(message: Message) -> int | None:
    for header in ADDRESS_HEADERS:
        for value in message.get_all(header) or []:
            for part in str(value).replace(",", " ").split():
                found = delivery_from_verp(part.strip("<>;\"'"))
                if found is not None:
                    return found
    return None


def _original_headers(report: Message) -> Message | None:
    for part in report.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
            if isinstance(payload, str):
                return email.message_from_string(payload, policy=email.policy.default)
    return None


def _delivery_id(report: Message) -> int | None:
    found = _verp_in(report)
    if found is None:
        original = _original_headers(report)
        if original is not None:
            found = _verp_in(original)
    return found


def parse(raw: bytes) -> ParsedReport:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if message.get_content_type() != "multipart/report":
        raise UnreadableReport("not a multipart/report message (RFC 3464 or RFC 5965)")
    report_type = (message.get_param("report-type") or "").lower()
    delivery_id = _delivery_id(message)
    if report_type == "delivery-status":
        return _parse_dsn(message, delivery_id)
    if report_type == "feedback-report":
        return _parse_arf(message, delivery_id)
    raise UnreadableReport(f"unknown report type {report_type!r}")


def _parse_dsn(message: Message, delivery_id: int | None) -> ParsedReport:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # The first block is per-message; each later one describes one recipient.
        for block in blocks[1:] if isinstance(blocks, list) else []:
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            diagnostic = str(block.get("Diagnostic-Code", "")).strip()
            if action == "failed" and status.startswith("5"):
                return ParsedReport("hard", delivery_id, status, diagnostic[:500])
            if action in ("failed", "delayed") or status.startswith("4"):
                return ParsedReport("soft", delivery_id, status, diagnostic[:500])
        raise UnreadableReport("the delivery status names no failed or delayed recipient")
    raise UnreadableReport("a delivery-status report without a message/delivery-status part")


def _parse_arf(message: Message, delivery_id: int | None) -> ParsedReport:
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields: Message | EmailMessage
        if isinstance(payload, list) and payload:
            fields = payload[0]
        else:
            fields = email.message_from_string(str(payload), policy=email.policy.default)
        feedback = str(fields.get("Feedback-Type", "")).strip().lower()
        if not feedback:
            raise UnreadableReport("the feedback report has no Feedback-Type")
        return ParsedReport("complaint", delivery_id, feedback, f"Feedback-Type: {feedback}")
    raise UnreadableReport("a feedback report without a message/feedback-report part")


def record_unreadable(session: Session, raw: bytes, reason: str) -> BounceReport:
    report = BounceReport(
        kind="unparsed", detail=reason[:500], raw=raw[:200_000].decode("utf-8", "replace")
    )
    session.add(report)
    session.flush()
    return report


def apply(session: Session, parsed: ParsedReport) -> BounceReport:
    """Store the report and act on it: suppress, withdraw consent, mark the delivery."""
    from app.sending import complaints  # cross-domain effects of a complaint

    if parsed.delivery_id is None:
        raise UnreadableReport("the report does not name a message we sent (no VERP match)")
    delivery = session.get(Delivery, parsed.delivery_id)
    if delivery is None:
        raise UnreadableReport("the report names a delivery we do not have")
    report = BounceReport(
        kind=parsed.kind, delivery_id=delivery.id, status_code=parsed.status, detail=parsed.detail
    )
    session.add(report)
    subscriber = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    settings = get_settings()
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
        since = utcnow() - timedelta(days=settings.soft_bounce_window_days)
        recent = session.execute(
            select(func.count())
            .select_from(BounceReport)
            .join(Delivery, col(Delivery.id) == col(BounceReport.delivery_id))
            .where(
                col(Delivery.subscriber_id) == subscriber.id,
                col(BounceReport.kind) == "soft",
                col(BounceReport.received_at) >= since,
            )
        ).scalar_one()
        if recent >= settings.soft_bounce_limit:
            complaints.suppress_subscriber(session, subscriber, "soft-bounces")
    session.flush()
    return report


def process(session: Session, raw: bytes) -> BounceReport:
    """Parse and apply one report; an unreadable one is stored and re-raised."""
    try:
        return apply(session, parse(raw))
    except UnreadableReport as exc:
        record_unreadable(session, raw, str(exc))
        raise
