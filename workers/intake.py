"""The intake job: the state-dependent work of a signup or login request (app.intake)."""

import dramatiq

import app.auth.service  # noqa: F401  (registers the "login" handler)
import app.members.applications  # noqa: F401  (registers "apply")
import app.subscribers.resend  # noqa: F401  (registers "resend")
import app.subscribers.signup  # noqa: F401  (registers "subscribe")
from app import intake


@dramatiq.actor(
    actor_name=intake.PROCESS_INTAKE.name,
    queue_name=intake.PROCESS_INTAKE.queue,
    # A failure rolls the work back and leaves the row: Dramatiq tries again soon, and
    # the sweep sends whatever is still there after that (intake.STALE_AFTER), until
    # intake.MAX_ATTEMPTS tries have been counted.
    max_retries=5,
    min_backoff=500,
    max_backoff=60_000,
    time_limit=120_000,
)
def process_intake(request_id: int, created: str | None = None) -> None:
    # `created`: the request's creation time (app.intake's done marks); the sweep's
    # messages, and those enqueued before marks existed, carry none.
    intake.run(request_id, created)
