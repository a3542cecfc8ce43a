"""Sending one batch of an issue: claim its rows, re-check who may still receive it,
send each message over the worker thread's SMTP connection, and mark each Delivery
sent as soon as the server accepts it.

Like an actor, `run_batch` owns its transactions: the claim commits before anything is
sent, and each acceptance commits on its own, so a worker killed mid-batch re-sends at
most the message that was in flight when it died. The claim (app/sending/claims.py) is
renewed as the batch goes and checked before every message: a batch that lost it stops.
A worker asked to stop (SIGTERM) finishes the message in hand, gives the rest back to
the queue and sends the batch's job again for another worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from babel.support import LazyProxy
from sqlalchemy import select, update
from sqlmodel import Session, col

from app import flows
from app.audiences.service import IssueAudience, Reason, for_issue, stop_sharing_url
from app.config import get_settings
from app.db import session_scope
from app.i18n import gettext, lazy_gettext, ngettext
from app.jobs import send_now, worker_stopping
from app.mailing.message import AddressError, ListInfo, sender_domain
from app.mailing.transport import (
    MailTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnsupportedAddressError,
)
from app.members.service import alert_admins
from app.newsletters.models import Issue, IssueStatus
from app.newsletters.service import web_url
from app.sending import claims, lifecycle, throttle
from app.sending.assembly import SEND_BATCH, lock_issue
from app.sending.composer import IssueComposer, Recipient
from app.sending.models import Delivery, DeliveryStatus
from app.subscribers.models import Subscriber
from app.subscribers.service import (
    preferences_url,
    subscriber_by_email,
    suppress,
    unsubscribe_url,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


STOPPING = "the worker is stopping"


@dataclass
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: list[int] = field(default_factory=list)  # a busy domain: not a failed try
    retry: list[int] = field(default_factory=list)  # a failed try (4xx, a message not built)
    last_error: str | None = None
    stopped: str | None = None  # why the batch stopped early


def issue_composer(
    session: Session,
    issue: Issue,
    audience: IssueAudience | None = None,
    *,
    html: str | None = None,
    text: str | None = None,
    **kw: Any,
) -> IssueComposer:
    """The issue's composer; a test copy passes its own compiled bodies and options."""
    audience = audience or for_issue(session, issue)
    newsletter = audience.newsletter
    html, text = html or issue.compiled_html, text or issue.compiled_text
    assert html and text
    settings = get_settings()
    domain = sender_domain(settings.mail_from)
    member = audience.member
    list_info = ListInfo(
        list_id=f"{newsletter.slug}.{domain}",
        name=newsletter.name,
        # A member mailing is not in the public archive; a newsletter issue is.
        archive_url=None if member else f"{settings.base_url}/archive/{newsletter.slug}",
        archived_at=None if member else web_url(newsletter, issue),
    )
    kw.setdefault("subject", issue.subject)
    return IssueComposer(
        # A member mailing shows the member as the sender, from the Club's own address.
        sender_name=member.name if member else newsletter.sender_name,
        sender_address=newsletter.sender_address,
        reply_to=newsletter.reply_to,
        list_info=list_info,
        html=html,
        text=text,
        settings=settings,
        feedback_id=(
            f"{issue.id}:member{member.id}:mailing:coopclub"
            if member
            else f"{issue.id}:{newsletter.slug}:newsletter:coopclub"
        ),
        **kw,
    )


class _Person(NamedTuple):
    """The columns of a recipient that sending needs (the link makers read `id` and
    `key`): plain rows, since ORM objects cost more than composing the message."""

    id: int
    key: str
    email: str
    first_name: str | None


def _recipients(
    session: Session, audience: IssueAudience, delivery_ids: list[int]
) -> tuple[list[Recipient], list[int]]:
    """Who in this batch may still receive it (consent and suppressions can change
    between assembly and sending), each with the reason they do; and the deliveries
    to skip."""
    rows = session.execute(
        select(Delivery.id, Subscriber.id, Subscriber.key, Subscriber.email, Subscriber.first_name)
        .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id), isouter=True)
        .where(col(Delivery.id).in_(delivery_ids))
        .order_by(Delivery.id)
    ).all()
    reasons = audience.reasons(session, [row[1] for row in rows if row[1] is not None])
    sentences: dict[Reason, str] = {}  # many people share a reason: word it once
    member = audience.member
    recipients, skipped = [], []
    for delivery_id, *columns in rows:
        reason = reasons.get(columns[0]) if columns[0] is not None else None
        if reason is None:
            skipped.append(delivery_id)
            continue
        person = cast(Subscriber, _Person(*columns))
        if reason not in sentences:
            sentences[reason] = audience.sentence(reason)
        # Someone reached only through sharing: their one-click link withdraws sharing
        # with this member; everyone else's withdraws exactly their own topics here.
        stop_url = stop_sharing_url(person, member) if member and reason.shared_topics else None
        recipients.append(
            Recipient(
                delivery_id=delivery_id,
                email=person.email,
                first_name=person.first_name,
                unsubscribe_url=stop_url
                if reason.shared_only and stop_url
                else unsubscribe_url(
                    person, list(reason.own_topic_ids), audience.newsletter.language
                ),
                preferences_url=preferences_url(person),
                reason=sentences[reason],
                stop_sharing_url=stop_url,
                sharing_member=member.name if member and stop_url else None,
                shared_only=reason.shared_only,
            )
        )
    return recipients, skipped


def run_batch(issue_id: int, batch: int, transport: MailTransport) -> BatchOutcome:
    outcome = BatchOutcome()
    with session_scope() as session:
        issue = session.get(Issue, issue_id)
        if issue is None or issue.status != IssueStatus.sending:
            outcome.stopped = f"issue is {issue.status.value if issue else 'gone'}"
            return outcome  # pause and cancel take effect here, at the batch boundary
        held = claims.claim(session, issue_id, batch)
    if not held.ids:
        return outcome
    try:
        with session_scope() as session:
            issue = session.get(Issue, issue_id)
            assert issue is not None
            audience = for_issue(session, issue)
            composer = issue_composer(session, issue, audience)
            pending, skipped = _recipients(session, audience, held.ids)
    except Exception as exc:
        # Something about the issue itself (its sender, its content) cannot be sent: every
        # message of the batch counts a failed try, so this cannot loop for ever.
        log.exception("batch %s of issue %s could not be prepared", batch, issue_id)
        outcome.retry = list(held.ids)
        outcome.last_error = f"could not prepare the message: {exc}"[:300]
        _finish(issue_id, batch, held, outcome)
        return outcome
    claims.set_status(held, skipped, DeliveryStatus.skipped)
    outcome.skipped = len(skipped)
    limiter = throttle.SendThrottle(get_settings())
    try:
        with claims.sent_marker(held) as mark_sent:
            _send_all(issue_id, pending, composer, transport, limiter, held, outcome, mark_sent)
    finally:
        limiter.close()
    if outcome.stopped == STOPPING:
        send_now(SEND_BATCH, issue_id, batch)  # another worker takes the rest
    elif outcome.stopped is None:
        _finish(issue_id, batch, held, outcome)
    return outcome


def _send_all(
    issue_id: int,
    pending: list[Recipient],
    composer: IssueComposer,
    transport: MailTransport,
    limiter: throttle.SendThrottle,
    held: claims.Claim,
    outcome: BatchOutcome,
    mark_sent: Callable[[int], bool],
) -> None:
    for index, recipient in enumerate(pending):
        if worker_stopping():
            claims.release(held, [r.delivery_id for r in pending[index:]])
            _give_back(issue_id, held, outcome)
            outcome.stopped = STOPPING
            return
        domain = recipient.email.rpartition("@")[2].lower()
        if not limiter.admit(domain):
            outcome.deferred.append(recipient.delivery_id)  # a busy domain: not an attempt
            continue
        try:
            if not held.holds(recipient.delivery_id):
                # The lease lapsed and another job took the rows: stop before sending.
                _lost_claim(issue_id, held, outcome, pending[index:])
                return
            try:
                message = composer.compose(recipient)
            except AddressError as exc:
                # Our side cannot write this address: fail it with the reason, but it is
                # no bounce, so the address is not suppressed.
                outcome.failed += 1
                claims.set_status(
                    held, [recipient.delivery_id], DeliveryStatus.failed, error=str(exc)[:300]
                )
                continue
            except Exception as exc:
                log.exception("delivery %s could not be composed", recipient.delivery_id)
                outcome.retry.append(recipient.delivery_id)
                outcome.last_error = f"could not compose the message: {exc}"[:300]
                continue
            transport.send(
                message.raw,
                mail_from=message.mail_from,
                rcpt_to=[message.rcpt_to],
                smtputf8=message.smtputf8,
            )
        except UnsupportedAddressError as exc:
            # Our mail server cannot take this address (no SMTPUTF8): no bounce either.
            outcome.failed += 1
            claims.set_status(
                held, [recipient.delivery_id], DeliveryStatus.failed, error=str(exc)[:300]
            )
            continue
        except PermanentDeliveryError as exc:
            outcome.failed += 1
            _hard_failure(issue_id, held, recipient, str(exc))
            continue
        except TransientDeliveryError as exc:
            if exc.code is None:  # the server itself is unreachable: stop, do not burn retries
                remaining = [r.delivery_id for r in pending[index:]]
                claims.release(held, remaining, error=str(exc)[:300])
                _give_back(issue_id, held, outcome)
                with session_scope() as session:
                    issue = session.get(Issue, issue_id)
                    if issue is not None:
                        lifecycle.pause_for_smtp(session, issue, str(exc)[:200])
                outcome.stopped = str(exc)
                return
            outcome.retry.append(recipient.delivery_id)  # a 4xx: a try that failed
            outcome.last_error = str(exc)[:300]
            continue
        finally:
            limiter.done(domain)
        if not mark_sent(recipient.delivery_id):
            _lost_claim(issue_id, held, outcome, pending[index + 1 :])
            return
        outcome.sent += 1


def _lost_claim(
    issue_id: int, held: claims.Claim, outcome: BatchOutcome, rest: list[Recipient]
) -> None:
    log.warning("a batch of issue %s lost its claim (lease passed); it stops here", issue_id)
    claims.release(held, [r.delivery_id for r in rest])  # only rows it still holds
    _give_back(issue_id, held, outcome)
    outcome.stopped = "the batch lost its claim"


def _give_back(issue_id: int, held: claims.Claim, outcome: BatchOutcome) -> None:
    """A batch that stops early returns what it deferred or must retry to the queue,
    counting the failed tries (rows another job took are left alone)."""
    _settle(issue_id, held, outcome)
    outcome.deferred, outcome.retry = [], []


def _hard_failure(issue_id: int, held: claims.Claim, recipient: Recipient, error: str) -> None:
    """A 5xx: the delivery failed, the address is suppressed as a hard bounce, and a
    run of such failures pauses the issue (something is wrong beyond one mailbox)."""
    with session_scope() as session:
        marked = session.execute(
            update(Delivery)
            .where(
                col(Delivery.id) == recipient.delivery_id,
                col(Delivery.claim_token) == held.token,
            )
            .values(status=DeliveryStatus.failed, error=error[:300], claim_token=None)
        )
        if not marked.rowcount:  # type: ignore[attr-defined]
            return  # another job holds the row now; it decides
        subscriber = subscriber_by_email(session, recipient.email)
        if subscriber is not None:
            flows.hard_bounced(session, subscriber=subscriber)
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
                    ngettext(
                        "{n} message in a row was refused",
                        "{n} messages in a row were refused",
                        issue.failure_streak,
                    ).format(n=issue.failure_streak)
                    + " "
                    + gettext(
                        "(last: %(error)s). Check the sender settings and the mail server, "
                        "then resume.",
                        error=error[:120],
                    )
                ),
            )
            alert_admins(
                session,
                subject=lazy_gettext("Sending paused: %(subject)s", subject=issue.subject),
                message=issue.pause_reason or "",
            )


GAVE_UP = "gave up after {attempts} tries: {error}"


def _settle(issue_id: int, held: claims.Claim, outcome: BatchOutcome) -> list[int]:
    """Deferred rows go back to the queue as they were; a failed try counts an attempt,
    and a row out of attempts fails for good (the admins are told once per issue).
    Returns the rows that just failed."""
    claims.release(held, outcome.deferred)
    gave_up: list[int] = []
    with session_scope() as session:
        # Locked, so that concurrent batches of the issue settle one after the other (one
        # alert) and the assembler's own finishing check sees what this committed.
        issue = lock_issue(session, issue_id)
        if outcome.retry:
            session.execute(
                update(Delivery)
                .where(col(Delivery.id).in_(outcome.retry), col(Delivery.claim_token) == held.token)
                .values(
                    attempts=Delivery.attempts + 1,
                    status=DeliveryStatus.queued,
                    claim_token=None,
                    error=(outcome.last_error or "")[:300] or None,
                )
            )
            error = GAVE_UP.format(attempts=MAX_ATTEMPTS, error=outcome.last_error or "")
            gave_up = list(
                session.execute(
                    update(Delivery)
                    .where(
                        col(Delivery.id).in_(outcome.retry),
                        col(Delivery.status) == DeliveryStatus.queued,
                        col(Delivery.attempts) >= MAX_ATTEMPTS,
                    )
                    .values(status=DeliveryStatus.failed, error=error[:300])
                    .returning(col(Delivery.id))
                ).scalars()
            )
        if issue is None:
            return gave_up
        if outcome.sent:
            issue.failure_streak = 0
        if gave_up and not _gave_up_before(session, issue_id, gave_up):
            alert_admins(  # once per issue: the first time any of its messages gives up
                session,
                subject=lazy_gettext(
                    "Messages of %(subject)s could not be sent", subject=issue.subject
                ),
                message=LazyProxy(
                    lambda n=len(gave_up), error=outcome.last_error or "": ngettext(
                        "%(num)s message failed after %(tries)s tries (last error: %(error)s). "
                        "See the issue's delivery log.",
                        "%(num)s messages failed after %(tries)s tries (last error: %(error)s). "
                        "See the issue's delivery log.",
                        n,
                        tries=MAX_ATTEMPTS,
                        error=error,
                    ),
                    enable_cache=False,
                ),
            )
        lifecycle.finish_if_done(session, issue)
    return gave_up


def _finish(issue_id: int, batch: int, held: claims.Claim, outcome: BatchOutcome) -> None:
    gave_up = _settle(issue_id, held, outcome)
    if outcome.deferred or (set(outcome.retry) - set(gave_up)):
        delay_ms = int(get_settings().send_retry_delay_seconds * 1000)
        send_now(SEND_BATCH, issue_id, batch, delay_ms=delay_ms)


def _gave_up_before(session: Session, issue_id: int, now_failed: list[int]) -> bool:
    return (
        session.execute(
            select(Delivery.id)
            .where(
                col(Delivery.issue_id) == issue_id,
                col(Delivery.status) == DeliveryStatus.failed,
                col(Delivery.error).like("gave up after%"),
                col(Delivery.id).notin_(now_failed),
            )
            .limit(1)
        ).first()
        is not None
    )
