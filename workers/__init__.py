"""Dramatiq actors: thin, they take ids, open their own session and call services.

Importing this package declares every actor on the broker that app.jobs configured, and
counts the jobs its workers finish (workers.metrics).
"""

from app import jobs
from workers import (  # noqa: F401
    admin_jobs,
    consent_log,
    intake,
    mail,
    marketplace,
    metrics,
    sending,
    sweep,
)

metrics.install(jobs.broker)
