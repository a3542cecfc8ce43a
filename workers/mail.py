"""Transactional mail delivery: claim a batch, send it outside the transaction, record."""

import dramatiq

from app.config import get_settings
from app.db import session_scope
from app.jobs import send_now
from app.mailing import service as mail
from app.mailing.transport import thread_transport


@dramatiq.actor(
    actor_name=mail.DELIVER_TRANSACTIONAL.name,
    queue_name=mail.DELIVER_TRANSACTIONAL.queue,
    # The row says when to try again (exponential backoff) and the sweep sends what is
    # overdue: Dramatiq's own retries would only add tries the row does not count.
    max_retries=0,
    time_limit=300_000,
)
def deliver_transactional(email_ids: list[int] | int) -> None:
    # A single id: a message enqueued before deliveries were batched.
    ids = [email_ids] if isinstance(email_ids, int) else email_ids
    with session_scope() as session:
        claimed = mail.claim_many(session, ids)
    if not claimed:
        return  # sent already, not due, paused, or another worker holds them
    tried, untried = mail.deliver(claimed, thread_transport(get_settings()))
    sent = [item for item, outcome in tried if outcome.sent]
    if sent:
        with session_scope() as session:  # on its own: a failure below cannot undo it
            mail.mark_sent(session, sent)
    failed = [(item, outcome) for item, outcome in tried if not outcome.sent]
    if not (failed or untried):
        return
    with session_scope() as session:
        recorded = [(item, mail.record_outcome(session, item, outcome)) for item, outcome in failed]
        mail.give_back(session, untried)
    for item, outcome in recorded:
        if outcome.retry_in is not None:
            send_now(
                mail.DELIVER_TRANSACTIONAL,
                [item.email.id],
                delay_ms=int(outcome.retry_in.total_seconds() * 1000),
            )
    # Given back after the time budget or as the worker stops: sent on by a new job
    # (should it be lost with an embedded worker, the sweep finds them due). After an
    # outage, the sweep resumes them once the server answers.
    if untried and not any(outcome.unreachable for _, outcome in recorded):
        send_now(mail.DELIVER_TRANSACTIONAL, [item.email.id for item in untried])
