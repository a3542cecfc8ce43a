"""The Prometheus counters that web and worker processes increment as things happen
(served by app/observability.py, or by `coopclub worker --metrics-port`).

Counting as it happens, rather than counting rows at scrape time, keeps a scrape cheap
however large the ledger and the send log grow. With PROMETHEUS_MULTIPROC_DIR set (the
same directory for every web and worker process on a machine), each process writes its
counts there and a scrape sums them; Prometheus sums the machines. What a transaction
records is counted only once it commits.
"""

from __future__ import annotations

import threading

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

CONSENT_EVENTS = Counter(
    "coopclub_consent_events",
    "Consent ledger events committed, by action (requested = signups, confirmed)",
    ["action"],
)
MESSAGES = Counter(
    "coopclub_messages",
    "Messages handed to the mail server, by outcome (sent; refused: 5xx; deferred: "
    "4xx or no connection) and the queue of the job that sent them",
    ["queue", "outcome"],
)
BOUNCE_REPORTS = Counter(
    "coopclub_bounce_reports",
    "Bounce and complaint reports applied, by kind (hard, soft, complaint, unreadable)",
    ["kind"],
)
JOBS = Counter(
    "coopclub_jobs",
    "Background jobs finished by the workers, by actor and outcome (ok, failed, skipped)",
    ["actor", "outcome"],
)

_PENDING_KEY = "coopclub_metrics_pending"
_job = threading.local()


def count_after_commit(session: OrmSession, counter: Counter, *labels: str) -> None:
    """Add one to `counter` when `session` commits; nothing if it rolls back."""
    session.info.setdefault(_PENDING_KEY, []).append((counter, labels))


@event.listens_for(OrmSession, "after_commit")
def _count_committed(session: OrmSession) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the real commit is later
        return
    for counter, labels in session.info.pop(_PENDING_KEY, []):
        counter.labels(*labels).inc()


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_rolled_back(session: OrmSession, previous_transaction: object) -> None:
    if not getattr(previous_transaction, "nested", False):
        session.info.pop(_PENDING_KEY, None)


def set_current_queue(queue: str | None) -> None:
    """Which queue's job this thread runs now (the worker middleware sets it)."""
    _job.queue = queue


def count_message(outcome: str) -> None:
    MESSAGES.labels(getattr(_job, "queue", None) or "web", outcome).inc()
