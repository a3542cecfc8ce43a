"""Transactional mail: queue it in the request's transaction, deliver it from a job.

Nothing is ever sent inline in a request. `queue_transactional` stores the rendered
message and enqueues delivery after commit; `deliver_transactional` claims the row,
sends it and records the outcome; the sweep re-enqueues anything left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, delete, select

from app.config import get_settings
from app.db import utcnow
from app.jobs import Job, enqueue, register_sweep
from app.mailing.body import EncodedBody
from app.mailing.message import (
    AddressError,
    MessageBuilder,
    Outgoing,
    needs_smtputf8,
    wire_address,
)
from app.mailing.models import TransactionalEmail, TransactionalStatus
from app.mailing.templates import render_email
from app.mailing.transport import (
    DeliveryError,
    MailTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from app.mailing.verp import transactional_verp_address

log = logging.getLogger(__name__)

DELIVER_TRANSACTIONAL = Job("deliver_transactional", "mail")

# A claimed row not marked sent within this time is presumed lost with its worker.
CLAIM_LEASE = timedelta(minutes=5)
# Sent messages hold an address: keep them only long enough to debug delivery.
KEEP_SENT = timedelta(days=7)
MAX_ATTEMPTS = 8


def queue_transactional(
    session: Session, *, kind: str, to: str, subject: str, template: str, **context: Any
) -> TransactionalEmail:
    settings = get_settings()
    context.setdefault("postal_address", settings.postal_address)
    context.setdefault("base_url", settings.base_url)
    html, text = render_email(template, **context)
    return queue_prepared(session, kind=kind, to=to, subject=subject, html=html, text=text)


def queue_prepared(
    session: Session,
    *,
    kind: str,
    to: str,
    subject: str,
    html: str,
    text: str,
    build: Callable[[TransactionalEmail], bytes] | None = None,
) -> TransactionalEmail:
    """Queue an already rendered message. `build`, given the stored row (its id names
    the message), returns the finished message to send as it is (a test copy of an
    issue, built by the send pipeline's own composer)."""
    email = TransactionalEmail(kind=kind, to_address=to, subject=subject, html=html, text=text)
    session.add(email)
    session.flush()
    if build is not None:
        email.raw = build(email)
        session.flush()
    enqueue(session, DELIVER_TRANSACTIONAL, email.id)
    return email


def claim(session: Session, email_id: int) -> TransactionalEmail | None:
    """Take the row for sending; None when it is gone, sent, or another worker holds it."""
    now = utcnow()
    result = session.execute(
        update(TransactionalEmail)
        .where(
            col(TransactionalEmail.id) == email_id,
            or_(
                col(TransactionalEmail.status) == TransactionalStatus.queued,
                (col(TransactionalEmail.status) == TransactionalStatus.sending)
                & (col(TransactionalEmail.claimed_at) < now - CLAIM_LEASE),
            ),
        )
        .values(
            status=TransactionalStatus.sending,
            claimed_at=now,
            attempts=TransactionalEmail.attempts + 1,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(TransactionalEmail, email_id)


@dataclass(frozen=True)
class Outcome:
    sent: bool
    error: DeliveryError | None = None

    @property
    def retry(self) -> bool:
        return isinstance(self.error, TransientDeliveryError)


def build_transactional(email: TransactionalEmail) -> Outgoing:
    """The message for a stored transactional email, through the one message builder:
    signed, with a VERP return path and `Auto-Submitted: auto-generated`."""
    settings = get_settings()
    sender_name, sender_address = parseaddr(settings.mail_from)
    builder = MessageBuilder(
        settings=settings,
        sender_name=sender_name,
        sender_address=sender_address,
        subject=email.subject,
        html=EncodedBody.fixed(email.html, html=True),
        text=EncodedBody.fixed(email.text, html=False),
        feedback_id=f"{email.kind}:transactional:coopclub",
    )
    return builder.build(
        to=email.to_address,
        seed=f"transactional:{email.id}",
        return_path=transactional_verp_address(email.id or 0, settings),
    )


def send_claimed(email: TransactionalEmail, transport: MailTransport) -> Outcome:
    """Send a claimed email, outside any transaction (SMTP can be slow)."""
    try:
        if email.raw is not None:  # built when it was queued (a test copy of an issue)
            rcpt, smtputf8 = wire_address(email.to_address), needs_smtputf8(email.to_address)
            mail_from = transactional_verp_address(email.id or 0, get_settings())
            transport.send(email.raw, mail_from=mail_from, rcpt_to=[rcpt], smtputf8=smtputf8)
        else:
            message = build_transactional(email)
            transport.send(
                message.raw,
                mail_from=message.mail_from,
                rcpt_to=[message.rcpt_to],
                smtputf8=message.smtputf8,
            )
    except AddressError as exc:
        return Outcome(sent=False, error=PermanentDeliveryError(str(exc)))
    except DeliveryError as exc:
        return Outcome(sent=False, error=exc)
    return Outcome(sent=True)


def record_outcome(session: Session, email_id: int, outcome: Outcome) -> Outcome:
    """Store what happened; a transient failure goes back to the queue until MAX_ATTEMPTS."""
    email = session.get(TransactionalEmail, email_id)
    if email is None:
        return outcome
    if outcome.sent:
        email.status = TransactionalStatus.sent
        email.sent_at = utcnow()
        email.last_error = None
        return outcome
    email.last_error = str(outcome.error)[:500]
    if outcome.retry and email.attempts < MAX_ATTEMPTS:
        email.status = TransactionalStatus.queued
        return outcome
    email.status = TransactionalStatus.failed
    log.warning(
        "transactional email %s failed after %s tries: %s", email.id, email.attempts, outcome.error
    )
    return Outcome(sent=False, error=PermanentDeliveryError(str(outcome.error)))


@register_sweep("transactional-mail")
def sweep_transactional(session: Session) -> None:
    now = utcnow()
    stuck = session.exec(
        select(TransactionalEmail.id)
        .where(
            or_(
                (col(TransactionalEmail.status) == TransactionalStatus.queued)
                & (
                    col(TransactionalEmail.created_at)
                    < now - timedelta(seconds=get_settings().transactional_retry_after_seconds)
                ),
                (col(TransactionalEmail.status) == TransactionalStatus.sending)
                & (col(TransactionalEmail.claimed_at) < now - CLAIM_LEASE),
            )
        )
        .limit(1000)
    ).all()
    for email_id in stuck:
        enqueue(session, DELIVER_TRANSACTIONAL, email_id)
    session.exec(
        delete(TransactionalEmail).where(  # type: ignore[call-overload]
            col(TransactionalEmail.status) == TransactionalStatus.sent,
            col(TransactionalEmail.sent_at) < now - KEEP_SENT,
        )
    )
