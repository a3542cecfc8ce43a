"""Transactional mail: queue it in the request's transaction, deliver it from a job.

Nothing is ever sent inline in a request. `queue_transactional` stores the rendered
message and enqueues delivery after commit on the `transactional` queue, which has
worker threads of its own, so a long newsletter send never delays a login link.
`deliver_transactional` claims the row with a fresh token, sends it outside any
transaction and records the outcome only if it still holds that claim. A failed try
waits `next_attempt_at` (exponential backoff); an unreachable server pauses
transactional delivery without spending tries (app/mailing/outage.py), and the sweep
resumes it once the server answers.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col

from app.config import get_settings
from app.db import utcnow
from app.jobs import TRANSACTIONAL_QUEUE, Job, enqueue
from app.mailing import outage
from app.mailing.message import build_message
from app.mailing.models import TransactionalEmail, TransactionalStatus
from app.mailing.templates import render_email
from app.mailing.transport import (
    DeliveryError,
    MailTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from app.mailing.verp import return_path

log = logging.getLogger(__name__)

DELIVER_TRANSACTIONAL = Job("deliver_transactional", TRANSACTIONAL_QUEUE)

# A claimed row not marked within this time is presumed lost with its worker.
CLAIM_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=30)  # then doubling: 30 s, 1 min, 2 min, … 32 min
MAX_BACKOFF = timedelta(hours=1)
ADMIN_ALERT = "admin-alert"


def queue_transactional(
    session: Session, *, kind: str, to: str, subject: str, template: str, **context: Any
) -> TransactionalEmail:
    settings = get_settings()
    context.setdefault("postal_address", settings.postal_address)
    context.setdefault("base_url", settings.base_url)
    html, text = render_email(template, **context)
    return queue_prepared(session, kind=kind, to=to, subject=subject, html=html, text=text)


def queue_prepared(
    session: Session, *, kind: str, to: str, subject: str, html: str, text: str
) -> TransactionalEmail:
    """Queue an already rendered message (a test copy of an issue, for one)."""
    email = TransactionalEmail(
        kind=kind, to_address=to, subject=subject, html=html, text=text, next_attempt_at=utcnow()
    )
    session.add(email)
    session.flush()
    enqueue(session, DELIVER_TRANSACTIONAL, email.id)
    return email


@dataclass(frozen=True)
class Claimed:
    """A row taken for sending, and the token every later change must match."""

    email: TransactionalEmail
    token: str


def claim(session: Session, email_id: int) -> Claimed | None:
    """Take the row for sending; None when it is gone, sent, not yet due, held by
    another worker, or transactional delivery is paused (the server is down)."""
    if outage.paused(session):
        return None
    now = utcnow()
    token = secrets.token_hex(16)
    result = session.execute(
        update(TransactionalEmail)
        .where(
            col(TransactionalEmail.id) == email_id,
            or_(
                (col(TransactionalEmail.status) == TransactionalStatus.queued)
                & (
                    col(TransactionalEmail.next_attempt_at).is_(None)
                    | (col(TransactionalEmail.next_attempt_at) <= now)
                ),
                (col(TransactionalEmail.status) == TransactionalStatus.sending)
                & (col(TransactionalEmail.claimed_at) < now - CLAIM_LEASE),
            ),
        )
        .values(status=TransactionalStatus.sending, claimed_at=now, claim_token=token)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    email = session.get(TransactionalEmail, email_id)
    return Claimed(email, token) if email is not None else None


@dataclass(frozen=True)
class Outcome:
    sent: bool
    error: Exception | None = None
    retry_in: timedelta | None = None  # when the next try is due, if there is one

    @property
    def unreachable(self) -> bool:
        """The server itself could not be reached: not this message's fault."""
        return isinstance(self.error, TransientDeliveryError) and self.error.code is None


def send_claimed(email: TransactionalEmail, transport: MailTransport) -> Outcome:
    """Send a claimed email, outside any transaction (SMTP can be slow). A message that
    cannot even be built is a failed try like any other, so it can never loop."""
    settings = get_settings()
    try:
        message = build_message(
            mail_from=settings.mail_from,
            to=email.to_address,
            subject=email.subject,
            html=email.html,
            text=email.text,
            headers={"Auto-Submitted": "auto-generated"},
        )
        raw = message.as_bytes()
    except Exception as exc:
        log.exception("transactional email %s could not be built", email.id)
        return Outcome(sent=False, error=exc)
    try:
        transport.send(
            raw,
            mail_from=return_path("t", email.id or 0, settings),
            rcpt_to=[email.to_address],
        )
    except DeliveryError as exc:
        return Outcome(sent=False, error=exc)
    return Outcome(sent=True)


def backoff(attempts: int) -> timedelta:
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def record_outcome(session: Session, claimed: Claimed, outcome: Outcome) -> Outcome:
    """Store what happened, if this claim still holds the row (a job whose claim lapsed
    and was taken by another changes nothing). A sent message keeps no working link."""
    email = session.get(TransactionalEmail, claimed.email.id, with_for_update=True)
    if email is None or email.claim_token != claimed.token:
        return Outcome(sent=False)
    email.claim_token = None
    now = utcnow()
    if outcome.sent:
        email.status, email.sent_at, email.last_error = TransactionalStatus.sent, now, None
        email.html = email.text = ""  # its links worked once; nobody needs them again
        return outcome
    email.last_error = str(outcome.error)[:500]
    if outcome.unreachable:
        # Pause everything rather than spend this message's tries on an outage.
        email.status, email.next_attempt_at = TransactionalStatus.queued, now
        outage.pause(session, str(outcome.error))
        return outcome
    email.attempts += 1
    if isinstance(outcome.error, PermanentDeliveryError) or email.attempts >= MAX_ATTEMPTS:
        email.status = TransactionalStatus.failed
        email.html = email.text = ""
        log.warning(
            "transactional email %s (%s) failed after %s tries: %s",
            email.id,
            email.kind,
            email.attempts,
            outcome.error,
        )
        if not isinstance(outcome.error, PermanentDeliveryError) and email.kind != ADMIN_ALERT:
            outage.tell_admins_once(session, email)
        return Outcome(sent=False, error=outcome.error)
    wait = backoff(email.attempts)
    email.status, email.next_attempt_at = TransactionalStatus.queued, now + wait
    return Outcome(sent=False, error=outcome.error, retry_in=wait)
