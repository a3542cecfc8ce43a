"""Dramatiq actors: thin, they take ids, open their own session and call services.

Importing this package declares every actor on the broker that app.jobs configured, and
counts the jobs its workers finish (workers.metrics).
"""

from app import jobs
from workers import admin_jobs, consent_log, mail, marketplace, metrics, sending, sweep  # noqa: F401

metrics.install(jobs.broker)
