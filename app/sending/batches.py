"""Sending one batch of an issue: claim its rows, re-check who may still receive it,
send each message over the worker thread's SMTP connection, and mark each Delivery
sent as soon as the server accepts it.

Like an actor, `run_batch` owns its transactions: the claim commits before anything is
sent, and each acceptance commits on its own, so a worker killed mid-batch re-sends at
most the message that was in flight when it died. Those marks go over one connection
held for the batch, one autocommitted UPDATE each (a pooled connection per mark cost a
checkout, a ping and four round trips: more than the SMTP exchange itself).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, select, text, update
from sqlmodel import Session, col

from app.audiences.service import IssueAudience, for_issue, stop_sharing_url
from app.config import get_settings
from app.db import get_engine, session_scope, utcnow
from app.jobs import send_now
from app.mailing.message import sender_domain
from app.mailing.transport import MailTransport, PermanentDeliveryError, TransientDeliveryError
from app.members.service import alert_admins
from app.newsletters.models import Issue, IssueStatus
from app.sending import lifecycle, throttle
from app.sending.assembly import SEND_BATCH, lock_issue
from app.sending.composer import IssueComposer, Recipient, verp_address
from app.sending.models import Delivery, DeliveryStatus
from app.sharing import credits as recruiting
from app.subscribers.models import Subscriber
from app.subscribers.service import (
    preferences_url,
    subscriber_by_email,
    suppress,
    unsubscribe_url,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the batch stopped early


def claim(session: Session, issue_id: int, batch: int) -> list[int]:
    now = utcnow()
    result = session.execute(
        update(Delivery)
        .where(
            col(Delivery.issue_id) == issue_id,
            col(Delivery.batch) == batch,
            or_(
                col(Delivery.status) == DeliveryStatus.queued,
                (col(Delivery.status) == DeliveryStatus.sending)
                & (col(Delivery.claimed_at) < now - lifecycle.claim_lease()),
            ),
        )
        .values(status=DeliveryStatus.sending, claimed_at=now, attempts=Delivery.attempts + 1)
        .returning(col(Delivery.id))
    )
    return [row[0] for row in result]


def _composer(session: Session, issue: Issue, audience: IssueAudience) -> IssueComposer:
    newsletter = audience.newsletter
    assert issue.compiled_html and issue.compiled_text
    settings = get_settings()
    domain = sender_domain(settings.mail_from)
    return IssueComposer(
        subject=issue.subject,
        # A member mailing shows the member as the sender, from the Club's own address.
        sender_name=audience.member.name if audience.member else newsletter.sender_name,
        sender_address=newsletter.sender_address,
        reply_to=newsletter.reply_to,
        list_id=f"{newsletter.slug}.{domain}",
        list_name=newsletter.name,
        html=issue.compiled_html,
        text=issue.compiled_text,
        settings=settings,
    )


def _recipients(
    session: Session, audience: IssueAudience, delivery_ids: list[int]
) -> tuple[list[Recipient], list[int]]:
    """Who in this batch may still receive it (consent and suppressions can change
    between assembly and sending), each with the reason they do; and the deliveries
    to skip."""
    rows = session.execute(
        select(Delivery.id, Subscriber)
        .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id), isouter=True)
        .where(col(Delivery.id).in_(delivery_ids))
        .order_by(Delivery.id)
    ).all()
    reasons = audience.reasons(session, [s.id for _, s in rows if s is not None])
    member = audience.member
    recipients, skipped = [], []
    for delivery_id, subscriber in rows:
        reason = reasons.get(subscriber.id) if subscriber is not None else None
        if subscriber is None or reason is None:
            skipped.append(delivery_id)
            continue
        # Someone reached only through sharing: their one-click link withdraws sharing
        # with this member; everyone else's withdraws exactly their own topics here.
        stop_url = stop_sharing_url(subscriber, member) if member and reason.shared_topics else None
        recipients.append(
            Recipient(
                delivery_id=delivery_id,
                email=subscriber.email,
                first_name=subscriber.first_name,
                unsubscribe_url=stop_url
                if reason.shared_only and stop_url
                else unsubscribe_url(subscriber, list(reason.own_topic_ids)),
                preferences_url=preferences_url(subscriber),
                reason=audience.sentence(reason),
                stop_sharing_url=stop_url,
                sharing_member=member.name if member and stop_url else None,
                shared_only=reason.shared_only,
            )
        )
    return recipients, skipped


def _set_status(ids: Iterable[int], status: DeliveryStatus, **values: object) -> None:
    """Mark deliveries in a transaction of their own. On PostgreSQL the commit does not
    wait for the disk flush: a database crash may forget the last few marks (and re-send
    those messages), but a worker crash never does."""
    ids = list(ids)
    if not ids:
        return
    with get_engine().begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
        connection.execute(
            update(Delivery).where(col(Delivery.id).in_(ids)).values(status=status, **values)
        )


# One statement, compiled once: the mark made after each accepted message.
MARK_SENT = (
    update(Delivery)
    .where(col(Delivery.id) == bindparam("delivery_id"))
    .values(status=DeliveryStatus.sent, sent_at=bindparam("at"), error=None)
)


@contextlib.contextmanager
def _sent_marker() -> Iterator[Callable[[int], None]]:
    """`mark(delivery_id)` for the batch. On PostgreSQL: one connection held for the
    batch, autocommit, without waiting for the disk flush (as `_set_status`); the
    setting is reset before the connection goes back to the pool. SQLite (the embedded
    default, one writer) keeps a short transaction per mark."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield lambda delivery_id: _set_status(
            [delivery_id], DeliveryStatus.sent, sent_at=utcnow(), error=None
        )
        return
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("SET synchronous_commit TO OFF")

        def mark(delivery_id: int) -> None:
            autocommit.execute(MARK_SENT, {"delivery_id": delivery_id, "at": utcnow()})

        try:
            yield mark
        finally:
            with contextlib.suppress(Exception):
                autocommit.exec_driver_sql("RESET synchronous_commit")


def run_batch(issue_id: int, batch: int, transport: MailTransport) -> BatchOutcome:
    outcome = BatchOutcome()
    with session_scope() as session:
        issue = session.get(Issue, issue_id)
        if issue is None or issue.status != IssueStatus.sending:
            outcome.stopped = f"issue is {issue.status.value if issue else 'gone'}"
            return outcome  # pause and cancel take effect here, at the batch boundary
        claimed = claim(session, issue_id, batch)
    if not claimed:
        return outcome
    with session_scope() as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        audience = for_issue(session, issue)
        composer = _composer(session, issue, audience)
        pending, skipped = _recipients(session, audience, claimed)
    _set_status(skipped, DeliveryStatus.skipped)
    outcome.skipped = len(skipped)
    limiter = throttle.SendThrottle(get_settings())
    try:
        with _sent_marker() as mark_sent:
            _send_all(issue_id, pending, composer, transport, limiter, outcome, mark_sent)
    finally:
        limiter.close()
    if outcome.stopped is None:
        _finish(issue_id, batch, outcome)
    return outcome


def _send_all(
    issue_id: int,
    pending: list[Recipient],
    composer: IssueComposer,
    transport: MailTransport,
    limiter: throttle.SendThrottle,
    outcome: BatchOutcome,
    mark_sent: Callable[[int], None],
) -> None:
    settings = get_settings()
    for index, recipient in enumerate(pending):
        domain = recipient.email.rpartition("@")[2].lower()
        if not limiter.admit(domain):
            outcome.deferred.append(recipient.delivery_id)
            continue
        try:
            raw = composer.compose(recipient)
            transport.send(
                raw,
                mail_from=verp_address(recipient.delivery_id, settings),
                rcpt_to=[recipient.email],
            )
        except PermanentDeliveryError as exc:
            outcome.failed += 1
            _hard_failure(issue_id, recipient, str(exc))
            continue
        except TransientDeliveryError as exc:
            if exc.code is None:  # the server itself is unreachable: stop, do not burn retries
                remaining = [r.delivery_id for r in pending[index:]] + outcome.deferred
                _set_status(remaining, DeliveryStatus.queued, error=str(exc)[:300])
                with session_scope() as session:
                    issue = session.get(Issue, issue_id)
                    if issue is not None:
                        lifecycle.pause_for_smtp(session, issue, str(exc)[:200])
                outcome.stopped = str(exc)
                return
            outcome.deferred.append(recipient.delivery_id)
            continue
        mark_sent(recipient.delivery_id)
        outcome.sent += 1


def _hard_failure(issue_id: int, recipient: Recipient, error: str) -> None:
    """A 5xx: the delivery failed, the address is suppressed as a hard bounce, and a
    run of such failures pauses the issue (something is wrong beyond one mailbox)."""
    with session_scope() as session:
        session.execute(
            update(Delivery)
            .where(col(Delivery.id) == recipient.delivery_id)
            .values(status=DeliveryStatus.failed, error=error[:300])
        )
        subscriber = subscriber_by_email(session, recipient.email)
        if subscriber is not None:
            recruiting.reverse(session, subscriber=subscriber, reason="hard-bounce")
        suppress(session, recipient.email, "hard-bounce")
        issue = lock_issue(session, issue_id)  # one pause and one alert, however many batches
        if issue is None:
            return
        issue.failure_streak += 1
        if issue.failure_streak >= get_settings().failure_streak_limit and (
            issue.status == IssueStatus.sending
        ):
            lifecycle.pause(
                session,
                issue,
                by="failures",
                reason=(
                    f"{issue.failure_streak} messages in a row were refused (last: {error[:120]}). "
                    "Check the sender settings and the mail server, then resume."
                ),
            )
            alert_admins(
                session,
                subject=f"Sending paused: {issue.subject}",
                message=issue.pause_reason or "",
            )


def _finish(issue_id: int, batch: int, outcome: BatchOutcome) -> None:
    with session_scope() as session:
        # Locked, so that this and the assembler's own finishing check run one after the
        # other and the second sees what the first committed.
        issue = lock_issue(session, issue_id)
        if issue is None:
            return
        if outcome.sent:
            issue.failure_streak = 0
        if outcome.deferred:
            # 4xx or a busy domain: try these again later, up to MAX_ATTEMPTS each.
            rows = (
                session.execute(select(Delivery).where(col(Delivery.id).in_(outcome.deferred)))
                .scalars()
                .all()
            )
            for delivery in rows:
                if delivery.attempts >= MAX_ATTEMPTS:
                    delivery.status, delivery.error = DeliveryStatus.failed, "gave up after retries"
                else:
                    delivery.status = DeliveryStatus.queued
            session.flush()
        else:
            lifecycle.finish_if_done(session, issue)
    if outcome.deferred:
        send_now(
            SEND_BATCH,
            issue_id,
            batch,
            delay_ms=int(get_settings().send_retry_delay_seconds * 1000),
        )
