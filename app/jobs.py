"""The job queue: the Dramatiq broker, enqueue-after-commit, and the periodic sweep.

The database is the source of truth and the broker only carries ids (and a request's
creation time, which names it with its id: app.intake). A job is handed
to the broker only after the transaction that justifies it commits (and dropped if
it rolls back), and a periodic sweep re-enqueues whatever the database says is still
unfinished, so a lost message or a killed worker delays work but never loses it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.config import Settings, get_settings

log = logging.getLogger(__name__)

_PENDING_KEY = "coopclub.pending_jobs"


@dataclass(frozen=True)
class Job:
    """The name and queue of an actor; workers/ declares the actor under the same name."""

    name: str
    queue: str = "default"


SWEEP = Job("sweep", "default")
# The consent log's sequencer (app.consent.log), on its own queue so that long send
# batches never hold back the integration of new consents.
SEQUENCE_LOG = Job("sequence_consent_log", "consent-log")


def build_broker(settings: Settings) -> dramatiq.Broker:
    if settings.redis_url:
        return RedisBroker(url=settings.redis_url, namespace=settings.redis_namespace)
    return StubBroker()


broker: dramatiq.Broker = build_broker(get_settings())
dramatiq.set_broker(broker)


def redis_client() -> Any | None:
    """The broker's Redis connection, for rate limits and locks; None when embedded."""
    return broker.client if isinstance(broker, RedisBroker) else None


def worker_stopping() -> bool:
    """True inside an actor whose worker was asked to stop (SIGTERM, or shutdown of the
    embedded worker): a long job should finish what is in hand and give back the rest.
    Dramatiq clears `running` on each worker thread when its worker begins to stop."""
    return getattr(threading.current_thread(), "running", True) is False


def ping_broker() -> None:
    client = redis_client()
    if client is not None:
        client.ping()


# A job is enqueued when the transaction that wrote its row commits: within this time
# of the row's timestamp, as a rule (one that takes longer may be sent twice, harmlessly).
ENQUEUE_MARGIN = timedelta(seconds=5)


def backlog_start(queue: str) -> datetime | None:
    """The moment before which work written to the database no longer waits in `queue`
    (its job is done, running, or lost); None when no job waits.

    The queues are first in, first out, so that is when the oldest waiting job was
    enqueued (less ENQUEUE_MARGIN). A sweep looking for lost jobs looks only before it:
    during a backlog longer than the sweep's grace time (a burst of signups), sending the
    waiting jobs again only lengthened the backlog they wait in (bench/RESULTS.md). Reads
    Dramatiq's own structures: for Redis, the queue's list of message ids (pushed at its
    tail, fetched from its head) and its hash of encoded messages; for the in-process
    broker, its queue of encoded messages; tests/test_jobs_backlog.py checks both."""
    if isinstance(broker, RedisBroker):
        name = f"{broker.namespace}:{queue}"
        data = None
        for _ in range(3):  # the head may be fetched between the two reads
            head = broker.client.lindex(name, 0)
            if head is None:
                return None
            data = broker.client.hget(f"{name}.msgs", head)
            if data is not None:
                break
        if data is None:
            return None
    elif isinstance(broker, StubBroker) and queue in broker.queues:
        waiting = broker.queues[queue].queue
        try:
            data = waiting[0]
        except IndexError:
            return None
    else:
        return None
    message = dramatiq.Message.decode(data)
    return datetime.fromtimestamp(message.message_timestamp / 1000, UTC) - ENQUEUE_MARGIN


def lost_before(queue: str, cutoff: datetime) -> datetime:
    """`cutoff`, or the start of the queue's backlog if that is earlier: work written
    before the returned moment whose job has not finished is lost, not waiting."""
    backlog = backlog_start(queue)
    return cutoff if backlog is None else min(cutoff, backlog)


# Enqueue after commit ----------------------------------------------------------------


def enqueue(session: Session, job: Job, *args: Any, delay_ms: int | None = None) -> None:
    """Send `job(*args)` once `session` commits; nothing is sent if it rolls back."""
    message = dramatiq.Message(
        queue_name=job.queue, actor_name=job.name, args=args, kwargs={}, options={}
    )
    session.connection()  # begin the transaction now, so its rollback is seen and drops this
    session.info.setdefault(_PENDING_KEY, []).append((message, delay_ms))


def send_now(job: Job, *args: Any, delay_ms: int | None = None) -> None:
    """Send a job outside any transaction (the sweep's own tick, commands)."""
    message = dramatiq.Message(
        queue_name=job.queue, actor_name=job.name, args=args, kwargs={}, options={}
    )
    broker.enqueue(message, delay=delay_ms)


@event.listens_for(OrmSession, "after_commit")
def _send_pending_jobs(session: OrmSession) -> None:
    # SQLAlchemy fires after_commit for a SAVEPOINT's release too (begin_nested); the
    # transaction that justifies the jobs has not committed yet, so keep them. Sending
    # them there let a worker look for rows it could not see yet and drop the job.
    if session.in_nested_transaction():
        return
    for message, delay_ms in session.info.pop(_PENDING_KEY, []):
        try:
            broker.enqueue(message, delay=delay_ms)
        except Exception:
            # The commit stands; the sweep finds the unfinished work and sends it again.
            log.exception("could not enqueue %s; the sweep will retry it", message.actor_name)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_pending_jobs(session: OrmSession, previous_transaction: object) -> None:
    # "soft" fires on every rollback() call, even one before any SQL ran.
    if not getattr(previous_transaction, "nested", False):
        session.info.pop(_PENDING_KEY, None)


# The sweep ---------------------------------------------------------------------------

SweepFn = Callable[[Session], None]
_sweeps: dict[str, SweepFn] = {}


def register_sweep(name: str, *, transaction: bool = True) -> Callable[[SweepFn], SweepFn]:
    """Register `fn(session)` to run on every sweep, in a transaction of its own; it
    re-enqueues unfinished work. A sweep that talks to the network registers with
    `transaction=False` and gets the session factory instead, so that it never holds
    a transaction (on SQLite, the write lock) while it waits for another server."""

    def decorator(fn: SweepFn) -> SweepFn:
        _sweeps[name] = fn
        if not transaction:
            _own_transactions.add(name)
        return fn

    return decorator


_own_transactions: set[str] = set()


def registered_sweeps() -> dict[str, SweepFn]:
    return dict(_sweeps)


def run_sweeps() -> dict[str, str]:
    """Run every registered sweep in its own transaction; one failing does not stop the rest."""
    from app.db import session_scope

    outcome: dict[str, str] = {}
    for name, fn in _sweeps.items():
        try:
            if name in _own_transactions:
                fn(session_scope)  # type: ignore[arg-type]
            else:
                with session_scope() as session:
                    fn(session)
            outcome[name] = "ok"
        except Exception as exc:
            log.exception("sweep %s failed", name)
            outcome[name] = f"failed: {type(exc).__name__}"
    record_sweep()
    return outcome


# The sweep's heartbeat: /readyz and the metrics read it (app/observability.py).
_last_sweep_local = 0.0


def _sweep_key() -> str:
    return f"{get_settings().redis_namespace}:app:last-sweep"


def record_sweep() -> None:
    global _last_sweep_local
    _last_sweep_local = time.time()
    client = redis_client()
    if client is not None:
        client.set(_sweep_key(), str(_last_sweep_local))


def last_sweep() -> float | None:
    """When a sweep last finished anywhere in the cluster (None: not in living memory)."""
    client = redis_client()
    if client is not None:
        value = client.get(_sweep_key())
        return float(value) if value else None
    return _last_sweep_local or None


def forget_sweep() -> None:
    """Tests start each case with no sweep seen."""
    global _last_sweep_local
    _last_sweep_local = 0.0


def queue_depths() -> dict[str, int]:
    """Messages waiting per broker queue (Redis lists named <namespace>:<queue>)."""
    client = redis_client()
    if client is None:
        return {q: broker.queues[q].qsize() for q in broker.get_declared_queues()}  # type: ignore[attr-defined]
    prefix = f"{get_settings().redis_namespace}:"
    depths: dict[str, int] = {}
    for key in client.scan_iter(match=f"{prefix}*"):
        name = key.decode()[len(prefix) :]
        if ":" not in name and client.type(key) == b"list":
            depths[name] = client.llen(key)
    return depths


class Ticker(threading.Thread):
    """Sends a job (the sweep, by default) every interval. With Redis, a lock makes the
    tick cluster-wide: however many processes run a ticker, the job is sent once per
    interval."""

    def __init__(self, interval_seconds: float, job: Job = SWEEP) -> None:
        super().__init__(name=f"coopclub-{job.name}-ticker", daemon=True)
        self.interval = interval_seconds
        self.job = job
        self._stop_event = threading.Event()

    def tick(self) -> bool:
        client = redis_client()
        if client is not None:
            # Under the app's own prefix with its other transient keys: a test starts
            # without the lock a worker from an earlier test took for its own interval.
            key = f"{get_settings().redis_namespace}:app:tick:{self.job.name}"
            if not client.set(key, "1", nx=True, px=max(1, int(self.interval * 1000) - 50)):
                return False
        send_now(self.job)
        return True

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("%s tick failed; trying again next interval", self.job.name)

    def stop(self) -> None:
        self._stop_event.set()


def tickers(sweep_interval: float) -> list[Ticker]:
    """The periodic jobs every worker process (or the embedded default) drives."""
    return [
        Ticker(sweep_interval, SWEEP),
        Ticker(get_settings().log_sequencer_interval_seconds, SEQUENCE_LOG),
    ]


TRANSACTIONAL_QUEUE = "transactional"


class WorkerPool:
    """The Dramatiq workers of one process: threads of their own for transactional mail
    (confirmations, login links), so a long newsletter send never delays one, and
    threads for every other queue."""

    def __init__(self, threads: int, transactional_threads: int, **options: Any) -> None:
        others = set(broker.get_declared_queues()) - {TRANSACTIONAL_QUEUE}
        self.workers = [
            dramatiq.Worker(
                broker,
                queues={TRANSACTIONAL_QUEUE},
                worker_threads=transactional_threads,
                **options,
            ),
            dramatiq.Worker(broker, queues=others, worker_threads=threads, **options),
        ]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self, timeout: int = 600_000) -> None:
        for worker in self.workers:
            worker.stop(timeout=timeout)

    def pause(self) -> None:
        for worker in self.workers:
            worker.pause()

    def resume(self) -> None:
        for worker in self.workers:
            worker.resume()

    def join(self) -> None:
        for worker in self.workers:
            worker.join()


class InProcessWorker:
    """The embedded default: Dramatiq worker threads and the ticker inside this process."""

    def __init__(self, threads: int, sweep_interval: float) -> None:
        if SWEEP.name not in broker.actors:
            raise RuntimeError("no actors are declared: import workers before starting jobs")
        self.worker = WorkerPool(threads, get_settings().transactional_worker_threads)
        self.tickers = tickers(sweep_interval)

    def start(self) -> None:
        self.worker.start()
        for ticker in self.tickers:
            ticker.start()
        # Work left unfinished by the last run is picked up at once, not one interval later.
        send_now(SWEEP)

    def stop(self) -> None:
        for ticker in self.tickers:
            ticker.stop()
        self.worker.stop(timeout=5000)
