"""Transactional mail delivery: claim, send outside the transaction, record."""

import dramatiq

from app.config import get_settings
from app.db import session_scope
from app.mailing import service as mail
from app.mailing.transport import thread_transport


@dramatiq.actor(
    actor_name=mail.DELIVER_TRANSACTIONAL.name,
    queue_name=mail.DELIVER_TRANSACTIONAL.queue,
    max_retries=mail.MAX_ATTEMPTS,
    min_backoff=2_000,
    max_backoff=300_000,
)
def deliver_transactional(email_id: int) -> None:
    with session_scope() as session:
        email = mail.claim(session, email_id)
    if email is None:
        return  # sent already, or another worker holds it
    outcome = mail.send_claimed(email, thread_transport(get_settings()))
    with session_scope() as session:
        outcome = mail.record_outcome(session, email_id, outcome)
    if outcome.retry and outcome.error is not None:
        raise outcome.error  # Dramatiq retries with backoff; the row is queued again
