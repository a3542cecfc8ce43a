"""The consent log's sequencer: integrate committed consent events into the Merkle log."""

import dramatiq

from app import jobs
from app.consent import log as consent_log
from app.db import session_scope
from app.subscribers import growth

# One run integrates at most this many batches, then leaves the rest to the next tick.
MAX_BATCHES_PER_RUN = 50


@dramatiq.actor(
    actor_name=jobs.SEQUENCE_LOG.name,
    queue_name=jobs.SEQUENCE_LOG.queue,
    max_retries=0,  # the next tick is the retry
    time_limit=120_000,
)
def sequence_consent_log() -> None:
    for _ in range(MAX_BATCHES_PER_RUN):
        with session_scope() as session:
            result = consent_log.integrate(session)
        if not result.more:
            break
    # The admin overview's daily counts follow the log (app.subscribers.growth).
    for _ in range(MAX_BATCHES_PER_RUN):
        with session_scope() as session:
            more = growth.roll_up(session)
        if not more:
            return
