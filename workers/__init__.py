"""Dramatiq actors: thin, they take ids, open their own session and call services.

Importing this package declares every actor on the broker that app.jobs configured.
"""

from workers import admin_jobs, consent_log, mail, marketplace, sending, sweep  # noqa: F401
