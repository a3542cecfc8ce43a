"""Transactional mail delivery: claim, send outside the transaction, record."""

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
def deliver_transactional(email_id: int) -> None:
    with session_scope() as session:
        claimed = mail.claim(session, email_id)
    if claimed is None:
        return  # sent already, not due, paused, or another worker holds it
    outcome = mail.send_claimed(claimed.email, thread_transport(get_settings()))
    with session_scope() as session:
        outcome = mail.record_outcome(session, claimed, outcome)
    if outcome.retry_in is not None:
        send_now(
            mail.DELIVER_TRANSACTIONAL,
            email_id,
            delay_ms=int(outcome.retry_in.total_seconds() * 1000),
        )
