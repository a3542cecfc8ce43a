"""The periodic sweep: every registered domain re-enqueues its unfinished work."""

import dramatiq

from app import jobs


@dramatiq.actor(actor_name=jobs.SWEEP.name, queue_name=jobs.SWEEP.queue, max_retries=0)
def sweep() -> None:
    jobs.run_sweeps()
