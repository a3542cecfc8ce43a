"""The periodic sweep: every registered domain re-enqueues its unfinished work.

Each domain registers its sweep where its service lives; the imports below make sure a
worker process that runs the sweep knows all of them, whatever else it imported.
"""

import dramatiq

import app.auth.service  # noqa: F401  (expired sessions and login links)
import app.bounces.service  # noqa: F401  (unreadable reports purged after the retention)
import app.intake  # noqa: F401  (signup and login requests whose job was lost)
import app.mailing.outage  # noqa: F401  (transactional mail left behind, retention)
import app.mailing.service  # noqa: F401  (transactional mail left behind)
import app.recruiting.service  # noqa: F401  (recruits whose hold has ended)
import app.sending.lifecycle  # noqa: F401  (due issues, lost batches, paused-for-SMTP)
import app.subscribers.exports  # noqa: F401  (exports left unfinished)
import app.subscribers.importer  # noqa: F401  (imports whose worker went silent)
from app import jobs


@dramatiq.actor(actor_name=jobs.SWEEP.name, queue_name=jobs.SWEEP.queue, max_retries=0)
def sweep() -> None:
    jobs.run_sweeps()
