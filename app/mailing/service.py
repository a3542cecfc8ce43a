"""Transactional mail: queue it in the request's transaction, deliver it from a job.

Nothing is ever sent inline in a request. `queue_transactional` stores the rendered
message and enqueues delivery after commit on the `transactional` queue, which has
worker threads of its own, so a long newsletter send never delays a login link.
`deliver_transactional` claims its rows with a fresh token, sends them outside any
transaction and records each outcome only if it still holds that claim. A failed try
waits `next_attempt_at` (exponential backoff); an unreachable server pauses
transactional delivery without spending tries (app/mailing/outage.py), and the sweep
resumes it once the server answers.

Messages stored together are delivered by one job (at most `DELIVERY_BATCH`): one
claim, one connection to the server and one "sent" for the lot. Each job's Dramatiq
message, claim and record were over half of a confirmation's cost in the worker. The
sent ones are recorded first, in a transaction of their own, so recording a failure
cannot undo them; a worker asked to stop finishes the message in hand and gives the
rest back. A worker killed mid-batch leaves its rows claimed until `CLAIM_LEASE` runs
out, and the sweep then sends them again: what that batch had sent arrives twice.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from babel.support import LazyProxy
from sqlalchemy import exists, insert, or_, update
from sqlmodel import Session, col

from app import i18n
from app.config import get_settings
from app.db import utcnow
from app.jobs import TRANSACTIONAL_QUEUE, Job, enqueue, worker_stopping
from app.mailing import outage
from app.mailing.body import EncodedBody
from app.mailing.message import (
    AddressError,
    MessageBuilder,
    Outgoing,
    needs_smtputf8,
    wire_address,
)
from app.mailing.models import MailPause, TransactionalEmail, TransactionalStatus
from app.mailing.templates import render_email
from app.mailing.transport import (
    DeliveryError,
    MailTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from app.mailing.verp import transactional_verp_address

log = logging.getLogger(__name__)

DELIVER_TRANSACTIONAL = Job("deliver_transactional", TRANSACTIONAL_QUEUE)

# A claimed row not marked within this time is presumed lost with its worker.
CLAIM_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
# Messages one delivery job takes at most, and the time after which it sends no more
# (the rest are released and sent again by a job of their own): a batch stays far
# inside `CLAIM_LEASE` and the job's time limit, even against a slow server.
DELIVERY_BATCH = 20
DELIVERY_SECONDS = 60
FIRST_BACKOFF = timedelta(seconds=30)  # then doubling: 30 s, 1 min, 2 min, … 32 min
MAX_BACKOFF = timedelta(hours=1)
ADMIN_ALERT = "admin-alert"


def queue_transactional(session: Session, **message: Any) -> TransactionalEmail:
    """Render and queue one message (`transactional_row` says what it takes)."""
    return queue_rows(session, [transactional_row(**message)])[0]


def transactional_row(
    *,
    kind: str,
    to: str,
    subject: str | LazyProxy,
    template: str,
    language: str | None = None,
    **context: Any,
) -> TransactionalEmail:
    """The message rendered in `language` (the recipient's; None: the Club's default), as
    a row not yet stored: `queue_rows` queues many at once. A subject given as
    `i18n.lazy_gettext(...)` is translated with the body."""
    settings = get_settings()
    context.setdefault("postal_address", settings.postal_address)
    context.setdefault("base_url", settings.base_url)
    with i18n.using(language):
        html, text = render_email(template, **context)
        subject = str(subject)
    return TransactionalEmail(
        kind=kind, to_address=to, subject=subject, html=html, text=text, next_attempt_at=utcnow()
    )


def queue_rows(session: Session, emails: list[TransactionalEmail]) -> list[TransactionalEmail]:
    """Store rendered messages (one INSERT for many) and enqueue their delivery after
    commit (`enqueue_delivery`)."""
    stored = list(
        session.scalars(
            insert(TransactionalEmail).returning(TransactionalEmail),
            [email.model_dump(exclude={"id"}) for email in emails],
        )
    )
    enqueue_delivery(session, [email.id for email in stored if email.id is not None])
    return stored


def enqueue_delivery(session: Session, email_ids: list[int]) -> None:
    """Enqueue, once `session` commits, the delivery of these messages: one job for
    every `DELIVERY_BATCH` of them."""
    for start in range(0, len(email_ids), DELIVERY_BATCH):
        enqueue(session, DELIVER_TRANSACTIONAL, email_ids[start : start + DELIVERY_BATCH])


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
    email = TransactionalEmail(
        kind=kind, to_address=to, subject=subject, html=html, text=text, next_attempt_at=utcnow()
    )
    (email,) = queue_rows(session, [email])
    if build is not None:
        email.raw = build(email)
        session.flush()
    return email


@dataclass(frozen=True)
class Claimed:
    """A row taken for sending, and the token every later change must match."""

    email: TransactionalEmail
    token: str


def claim(session: Session, email_id: int) -> Claimed | None:
    """Take the row for sending; None when it is gone, sent, not yet due, held by
    another worker, or transactional delivery is paused (the server is down)."""
    claimed = claim_many(session, [email_id])
    return claimed[0] if claimed else None


def claim_many(session: Session, email_ids: list[int]) -> list[Claimed]:
    """Take the rows that can be sent now, in one statement and with one token, in id
    order; `claim` says which cannot."""
    now = utcnow()
    token = secrets.token_hex(16)
    result = session.execute(
        update(TransactionalEmail)
        .where(
            col(TransactionalEmail.id).in_(email_ids),
            # Not paused, in the same statement (a read of its own was a tenth of the
            # worker's time per signup).
            ~exists().where(col(MailPause.channel) == outage.CHANNEL),
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
        # The claimed rows themselves, in the same statement (a second read cost a third
        # of a claim after a burst of signups).
        .returning(TransactionalEmail)
        # Nothing in this new session to bring up to date (the default compiles the
        # WHERE clause into Python to look for the rows among loaded objects).
        .execution_options(synchronize_session=False)
    )
    emails = sorted(result.scalars(), key=lambda email: email.id or 0)
    return [Claimed(email, token) for email in emails]


@dataclass(frozen=True)
class Outcome:
    sent: bool
    error: Exception | None = None
    retry_in: timedelta | None = None  # when the next try is due, if there is one

    @property
    def unreachable(self) -> bool:
        """The server itself could not be reached: not this message's fault."""
        return isinstance(self.error, TransientDeliveryError) and self.error.code is None


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
    """Send a claimed email, outside any transaction (SMTP can be slow). A message that
    cannot even be built is a failed try like any other, so it can never loop."""
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
    except Exception as exc:
        log.exception("transactional email %s could not be built", email.id)
        return Outcome(sent=False, error=exc)
    return Outcome(sent=True)


def backoff(attempts: int) -> timedelta:
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def deliver(
    claimed: list[Claimed], transport: MailTransport
) -> tuple[list[tuple[Claimed, Outcome]], list[Claimed]]:
    """Send claimed messages one after another over `transport`, outside any
    transaction; (what was tried with its outcome, what was left untried). It stops
    early when the server cannot be reached (the rest would fail alike and delivery is
    about to be paused), when the worker is asked to stop, or after `DELIVERY_SECONDS`."""
    started = time.monotonic()
    tried: list[tuple[Claimed, Outcome]] = []
    for n, item in enumerate(claimed):
        if tried and (
            tried[-1][1].unreachable
            or worker_stopping()
            or time.monotonic() - started > DELIVERY_SECONDS
        ):
            return tried, claimed[n:]
        tried.append((item, send_claimed(item.email, transport)))
    return tried, []


def mark_sent(session: Session, sent: list[Claimed]) -> set[int]:
    """Mark these messages sent where their claim still holds; the ids marked. A sent
    message keeps no working link."""
    by_token: dict[str, list[int]] = {}
    for item in sent:
        by_token.setdefault(item.token, []).append(item.email.id or 0)
    stored: set[int] = set()
    for token, ids in by_token.items():
        stored.update(
            session.execute(
                update(TransactionalEmail)
                .where(
                    col(TransactionalEmail.id).in_(ids),
                    col(TransactionalEmail.claim_token) == token,
                )
                .values(
                    claim_token=None,
                    status=TransactionalStatus.sent,
                    sent_at=utcnow(),
                    last_error=None,
                    html="",  # its links worked once; nobody needs them again
                    text="",
                    raw=None,
                )
                .returning(col(TransactionalEmail.id))
                .execution_options(synchronize_session=False)
            ).scalars()
        )
    return stored


def give_back(session: Session, untried: list[Claimed]) -> None:
    """Messages claimed but not tried: queued again and due now, no try counted."""
    for token in {item.token for item in untried}:
        session.execute(
            update(TransactionalEmail)
            .where(
                col(TransactionalEmail.id).in_(
                    [item.email.id for item in untried if item.token == token]
                ),
                col(TransactionalEmail.claim_token) == token,
            )
            .values(claim_token=None, status=TransactionalStatus.queued, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def record_outcome(session: Session, claimed: Claimed, outcome: Outcome) -> Outcome:
    """Store what happened, if this claim still holds the row (a job whose claim lapsed
    and was taken by another changes nothing). A sent message keeps no working link."""
    if outcome.sent:
        return outcome if mark_sent(session, [claimed]) else Outcome(sent=False)
    email = session.get(TransactionalEmail, claimed.email.id, with_for_update=True)
    if email is None or email.claim_token != claimed.token:
        return Outcome(sent=False)
    email.claim_token = None
    now = utcnow()
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
        email.raw = None
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
