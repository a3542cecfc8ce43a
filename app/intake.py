"""Requests that must answer the same for everyone: record now, decide in a job.

A signup, a "send me a new link" and a login request each reveal nothing about the
address they name, in their answer or in the time it takes: the request checks only
what the person typed (and the rate limits), then makes ONE insert of the same shape
whatever state the address is in (an `IntakeRequest` holding the payload) and enqueues
the one `process_intake` job after commit. The job does everything that depends on the
address's state (subscriptions, ledger events, which mail to send) and deletes the row
in the same transaction, so the row is the durable record until the work is done: a job
that fails rolls back and is retried, and the sweep re-enqueues rows left behind by a
lost message or a killed worker. The row holds an address only until then.

No request loops: every try is counted in a transaction of its own before the work (a
failure rolls the work back, not the count); past `MAX_ATTEMPTS` the request is given
up, its row (and the address in it) deleted, and the admins told, at most once an hour.

Batches: a job doing its request's first try also takes up to `BATCH_SIZE - 1` other
requests that no job has tried yet (locked with SKIP LOCKED, so two jobs never share
one) and does as many of them as it can in `BATCH_SECONDS`, in one transaction: one
connection, one commit and one DELETE for the lot, and the topics and texts they name
read once. A kind registered with `register_many_handler` (signups) does all of its
requests in the batch in one call: a few statements for all of them rather than a few
each. The jobs of the requests
it took wait for its locks and then find their rows gone. If anything in a batch
fails, the whole batch rolls back, the job does its own request alone as before (its
try was counted), and the others are left to their own jobs, where every failure is
counted and retried as for a request done alone: a request that cannot be done never
makes another fail, and only first tries are batched.

Done marks: once a batch has committed, it marks the requests it did as done (in Redis,
in-process when embedded), so that their own jobs, which then have nothing left to do,
end without touching the database. Each had taken a connection, waited for the batch's
locks and counted a try on a row that was gone: after a burst that was most of the
worker's database traffic. A mark names the request by id and creation time, as its
job's message does (ids can come again: SQLite reuses the highest, tests empty the
tables); a mark is only ever written after the row's deletion committed, so a job that
finds one is right to end. A job without a mark (it came first, the mark expired, or
the sweep sent it, whose messages carry no time) asks the database as before.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, delete, insert, update
from sqlmodel import Field, Session, SQLModel, col, select

from app import ratelimit
from app.config import get_settings
from app.db import session_scope, utcnow
from app.i18n import lazy_gettext
from app.jobs import (
    TRANSACTIONAL_QUEUE,
    Job,
    enqueue,
    lost_before,
    redis_client,
    register_sweep,
)

log = logging.getLogger(__name__)

# On the transactional queue, with its own threads: a long newsletter send never delays
# a confirmation or a login link.
PROCESS_INTAKE = Job("process_intake", TRANSACTIONAL_QUEUE)

# A row whose job has not finished within this time is presumed lost and sent again.
STALE_AFTER = timedelta(minutes=2)

# Tries before a request is given up (Dramatiq's retries and the sweep's both count).
MAX_ATTEMPTS = 8

# Requests one job does at most in one transaction (its own and untried others'), and
# the time after which it takes no more: a batch's consent events are committed (and
# can be sealed into the log) only when the batch ends, and the jobs of the requests it
# took wait for it. On a busy machine a batch is one or two requests.
BATCH_SIZE = 20
BATCH_SECONDS = 0.1

# How long a done mark is kept: past the backlog of a long burst; a job that comes
# later asks the database.
DONE_MARKS_FOR = timedelta(minutes=10)


class IntakeRequest(SQLModel, table=True):
    """One accepted request, waiting for its job; deleted when the job has done it."""

    __tablename__ = "intake_request"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    payload: str = Field(sa_type=Text)  # JSON
    created_at: datetime = Field(default_factory=utcnow)
    enqueued_at: datetime = Field(default_factory=utcnow, index=True)
    attempts: int = Field(default=0)
    # The kind of the last failure (an exception's type, never its text: that can quote
    # the address), for the admins' alert.
    last_error: str | None = Field(default=None, max_length=200)


_TABLE = IntakeRequest.__table__  # type: ignore[attr-defined]
_INSERT = insert(_TABLE).returning(_TABLE.c.id)

Handler = Callable[[Session, dict[str, Any]], None]
ManyHandler = Callable[[Session, list[dict[str, Any]]], None]
_handlers: dict[str, Handler] = {}
_many_handlers: dict[str, ManyHandler] = {}


def register_handler(kind: str) -> Callable[[Handler], Handler]:
    """Register `fn(session, payload)`: the state-dependent work of a `kind` request,
    done in the job's transaction (services never commit)."""

    def decorator(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return decorator


def register_many_handler(kind: str) -> Callable[[ManyHandler], ManyHandler]:
    """Register `fn(session, payloads)`: the work of many `kind` requests at once, in a
    few statements for all of them, each address's requests in the order given. A batch
    hands it every such request it took; a request done alone is a list of one."""

    def decorator(fn: ManyHandler) -> ManyHandler:
        _many_handlers[kind] = fn
        _handlers[kind] = lambda session, payload: fn(session, [payload])
        return fn

    return decorator


def accept(session: Session, kind: str, payload: dict[str, Any]) -> None:
    """Record the request and enqueue its job (sent once `session` commits). The same
    statement for every address: the caller answers right after."""
    if kind not in _handlers:
        raise ValueError(f"no handler for {kind!r} requests")
    now = utcnow()
    # One Core INSERT ... RETURNING, built once: the ORM's unit of work for this one row
    # was a fifth of a signup request's CPU, and building the statement (and the ORM's
    # handling of an ORM-enabled one) most of what was left of the insert.
    request_id = session.execute(
        _INSERT,
        {
            "kind": kind,
            "payload": json.dumps(payload, separators=(",", ":")),
            "created_at": now,
            "enqueued_at": now,
            "attempts": 0,
        },
    ).scalar_one()
    enqueue(session, PROCESS_INTAKE, request_id, created_key(now))


def run(request_id: int, created: str | None = None) -> None:
    """The job: count the try, do the work (`process`, with others in a batch on a first
    try), or give up past the limit; nothing when a batch has marked the request done
    (`created`, the request's creation time as its message carries it, names it)."""
    if created is not None and done_marks.seen(request_id, created):
        return
    with session_scope() as session:
        # Waits for a batch that holds the row (app.intake.process_batch): once it
        # commits the row is gone; if it rolled back, this job does its request.
        attempts = session.execute(
            update(IntakeRequest)
            .where(col(IntakeRequest.id) == request_id)
            .values(attempts=col(IntakeRequest.attempts) + 1)
            .returning(col(IntakeRequest.attempts))
        ).scalar()
    if attempts is None:
        return  # done already
    if attempts > MAX_ATTEMPTS:
        with session_scope() as session:
            give_up(session, request_id)
        return
    if attempts == 1 and BATCH_SIZE > 1 and _run_batch(request_id):
        return
    try:
        with session_scope() as session:
            process(session, request_id)
    except Exception as exc:
        with session_scope() as session:
            session.execute(
                update(IntakeRequest)
                .where(col(IntakeRequest.id) == request_id)
                .values(last_error=f"{type(exc).__module__}.{type(exc).__qualname__}"[:200])
            )
        raise  # Dramatiq tries again soon; the sweep after that


def _run_batch(request_id: int) -> bool:
    """Do `request_id` and up to `BATCH_SIZE - 1` untried others in one transaction; True
    when done. On any failure nothing of the batch stays and False tells the caller to
    do its own request alone; the others are still there for their own jobs (which
    waited for the batch's locks)."""
    try:
        with session_scope() as session:
            done = process_batch(session, request_id)
    except Exception as exc:
        log.info("a batch of intake requests failed (%s); doing each alone", type(exc).__name__)
        return False
    if done:
        done_marks.add(done)  # committed: their jobs can end at once
    return True


def give_up(session: Session, request_id: int) -> None:
    """Delete a request that failed `MAX_ATTEMPTS` times and tell the admins (at most
    once an hour; the log has every one)."""
    from app.members.service import alert_admins

    request = session.get(IntakeRequest, request_id)
    if request is None:
        return
    session.execute(delete(IntakeRequest).where(col(IntakeRequest.id) == request_id))
    log.error(
        "gave up a %s request after %d tries (last error: %s)",
        request.kind,
        request.attempts - 1,
        request.last_error,
    )
    if ratelimit.hit("intake-given-up", "admins", limit=1, window_seconds=3600):
        alert_admins(
            session,
            subject=lazy_gettext("A signup or login request could not be done"),
            message=lazy_gettext(
                "A %(kind)s request failed %(times)s times (last error: %(error)s) and was "
                "given up: the person got no email. Further ones this hour are only logged; "
                "the worker's log has the details.",
                kind=request.kind,
                times=request.attempts - 1,
                error=request.last_error or "",
            ),
        )


def process(session: Session, request_id: int) -> bool:
    """Do the request's work and delete it, in `session`'s transaction; False when it is
    gone (done already). Two jobs for one row take turns on its lock: the second finds
    it deleted."""
    request = _locked(session, request_id)
    if request is None:
        return False
    _handlers[request.kind](session, json.loads(request.payload))
    session.delete(request)
    session.flush()
    return True


def _locked(session: Session, request_id: int) -> IntakeRequest | None:
    return session.exec(
        select(IntakeRequest)
        .where(IntakeRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def process_batch(
    session: Session, request_id: int, size: int | None = None
) -> list[tuple[int, str]] | None:
    """Do `request_id` and up to `size - 1` requests no job has tried yet (rows no other
    transaction holds), and delete them, in `session`'s transaction; the requests done
    (id and creation time), or None when `request_id` is gone. Its own request first,
    then the others address by address (so two batches lock people in the same order;
    one address's requests in the order they came), until `BATCH_SECONDS` have passed.
    Requests next to each other whose kind has a many-handler are done by it together,
    in a few statements for all of them."""
    size = BATCH_SIZE if size is None else size
    own = _locked(session, request_id)
    if own is None:
        return None
    others = session.exec(
        select(IntakeRequest)
        .where(col(IntakeRequest.attempts) == 0, col(IntakeRequest.id) != request_id)
        .order_by(col(IntakeRequest.id))
        .limit(size - 1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    work = [(request, json.loads(request.payload)) for request in others]
    work.sort(key=lambda item: (str(item[1].get("email", "")), item[0].id))
    started = time.monotonic()
    done: list[IntakeRequest] = []
    for run in _runs([(own, json.loads(own.payload)), *work]):
        if done and time.monotonic() - started > BATCH_SECONDS:
            break  # the rest go to their own jobs once this commits
        kind = run[0][0].kind
        if kind in _many_handlers:
            _many_handlers[kind](session, [payload for _, payload in run])
        else:
            _handlers[kind](session, run[0][1])
        done.extend(request for request, _ in run)
    session.execute(
        delete(IntakeRequest)
        .where(col(IntakeRequest.id).in_([request.id for request in done]))
        .execution_options(synchronize_session=False)
    )
    for request in done:
        session.expunge(request)
    return [(request.id or 0, created_key(request.created_at)) for request in done]


def created_key(at: datetime) -> str:
    """A request's creation time as its job's message and its done mark carry it."""
    return at.isoformat(timespec="microseconds")


class DoneMarks:
    """Requests a committed batch did, by id and creation time, kept `DONE_MARKS_FOR`:
    in Redis, shared by every worker process, or in this process when embedded. Marks
    are grouped by the minute their requests were made, one set per minute, so a check
    is one lookup and old marks go with their set."""

    def __init__(self) -> None:
        self._local: dict[str, set[str]] = {}  # by minute, when embedded
        self._lock = threading.Lock()  # the embedded worker's threads share them

    @staticmethod
    def _redis_key(minute: str) -> str:
        return f"{get_settings().redis_namespace}:app:intake-done:{minute}"

    def add(self, done: list[tuple[int, str]]) -> None:
        by_minute: dict[str, list[str]] = {}
        for request_id, created in done:
            by_minute.setdefault(created[:16], []).append(f"{request_id}@{created}")
        client = redis_client()
        if client is None:
            oldest = created_key(utcnow() - DONE_MARKS_FOR)[:16]
            with self._lock:
                for minute in [minute for minute in self._local if minute < oldest]:
                    del self._local[minute]
                for minute, marks in by_minute.items():
                    self._local.setdefault(minute, set()).update(marks)
            return
        try:
            pipe = client.pipeline(transaction=False)
            for minute, marks in by_minute.items():
                pipe.sadd(self._redis_key(minute), *marks)
                pipe.expire(self._redis_key(minute), int(DONE_MARKS_FOR.total_seconds()))
            pipe.execute()
        except Exception as exc:  # their jobs ask the database instead
            log.warning("could not mark intake requests done (%s)", type(exc).__name__)

    def seen(self, request_id: int, created: str) -> bool:
        minute, mark = created[:16], f"{request_id}@{created}"
        client = redis_client()
        if client is None:
            with self._lock:
                return mark in self._local.get(minute, ())
        try:
            return bool(client.sismember(self._redis_key(minute), mark))
        except Exception:
            return False  # ask the database

    def forget(self) -> None:
        """Forget the marks kept in this process (tests; Redis's go with the namespace)."""
        with self._lock:
            self._local.clear()


done_marks = DoneMarks()


def _runs(
    work: list[tuple[IntakeRequest, dict[str, Any]]],
) -> list[list[tuple[IntakeRequest, dict[str, Any]]]]:
    """The work in order, cut where a kind that can be done many at once begins or ends:
    such runs go to their kind's handler together, any other request alone."""
    runs: list[list[tuple[IntakeRequest, dict[str, Any]]]] = []
    for item in work:
        kind = item[0].kind
        if runs and kind in _many_handlers and runs[-1][0][0].kind == kind:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


@register_sweep("intake-requests")
def sweep_intake(session: Session) -> None:
    """Send again every request whose job should have finished by now."""
    now = utcnow()
    # A request whose job still waits behind a backlog is not lost (app.jobs).
    stale_before = lost_before(PROCESS_INTAKE.queue, now - STALE_AFTER)
    stale = session.exec(
        select(IntakeRequest.id)
        .where(col(IntakeRequest.enqueued_at) < stale_before)
        .order_by(col(IntakeRequest.id))
        .limit(1000)
    ).all()
    if not stale:
        return
    session.execute(
        update(IntakeRequest).where(col(IntakeRequest.id).in_(stale)).values(enqueued_at=now)
    )
    for request_id in stale:
        enqueue(session, PROCESS_INTAKE, request_id)
    log.warning("sent %d intake requests again", len(stale))
