"""The send pipeline's actors: assemble an issue, send one batch."""

import dramatiq

from app.config import get_settings
from app.db import session_scope
from app.mailing.transport import thread_transport
from app.sending import assembly, batches, lifecycle


@dramatiq.actor(
    actor_name=assembly.ASSEMBLE_ISSUE.name,
    queue_name=assembly.ASSEMBLE_ISSUE.queue,
    max_retries=20,
    time_limit=3_600_000,
)
def assemble_issue(issue_id: int) -> None:
    assembly.assemble(session_scope, issue_id)
    with session_scope() as session:  # every batch may have finished before assembly did
        issue = assembly.lock_issue(session, issue_id)
        if issue is not None:
            lifecycle.finish_if_done(session, issue)


@dramatiq.actor(
    actor_name=assembly.SEND_BATCH.name,
    queue_name=assembly.SEND_BATCH.queue,
    max_retries=20,
    min_backoff=5_000,
    max_backoff=600_000,
    time_limit=3_600_000,
)
def send_batch(issue_id: int, batch: int) -> None:
    batches.run_batch(issue_id, batch, thread_transport(get_settings()))
