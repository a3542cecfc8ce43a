"""The sweeps send again only work whose job is no longer waiting in its queue. During a
backlog longer than their grace time (a burst of signups), sending the waiting jobs again
only lengthened the backlog: the bench saw thousands of duplicate jobs still queued after
the last confirmation was sent. A job that is really lost is still sent again."""

from __future__ import annotations

from datetime import timedelta

import dramatiq
import pytest
from sqlalchemy import select, update

from app import intake, jobs
from app.db import session_scope, utcnow
from app.mailing import outage
from app.mailing import service as mail
from app.mailing.models import TransactionalEmail
from tests.subscribers.helpers import make_topics

QUEUE = jobs.TRANSACTIONAL_QUEUE


def _waiting() -> int:
    broker = jobs.broker
    if hasattr(broker, "do_qsize"):
        return broker.do_qsize(QUEUE)
    return broker.queues[QUEUE].qsize()


def _enqueue_at(job: jobs.Job, arg: int, at_ms: int) -> None:
    """A message as the broker holds one enqueued at `at_ms` (a backlog's old jobs)."""
    message = dramatiq.Message(
        queue_name=job.queue,
        actor_name=job.name,
        args=(arg,),
        kwargs={},
        options={},
        message_timestamp=at_ms,
    )
    jobs.broker.enqueue(message)


@pytest.fixture
def paused(worker):
    worker.pause()
    yield worker
    worker.resume()


def test_the_backlog_starts_at_the_oldest_waiting_job(paused):
    jobs.broker.flush(QUEUE)
    assert jobs.backlog_start(QUEUE) is None
    first = utcnow() - timedelta(minutes=10)
    for minutes in (10, 5):
        _enqueue_at(
            mail.DELIVER_TRANSACTIONAL,
            0,
            int((utcnow() - timedelta(minutes=minutes)).timestamp() * 1000),
        )
    start = jobs.backlog_start(QUEUE)
    assert abs(start - (first - jobs.ENQUEUE_MARGIN)) < timedelta(seconds=1)
    jobs.broker.flush(QUEUE)


def _jobs_were_enqueued_then(
    rows: list[tuple[int, object]], job: jobs.Job, *, waiting: bool
) -> None:
    """The queue holds the rows' jobs as enqueued just after the rows were written (ten
    minutes ago): still waiting behind a backlog, or, with `waiting=False`, lost."""
    jobs.broker.flush(QUEUE)
    if waiting:
        for row_id, at in rows:
            _enqueue_at(job, row_id, int(at.timestamp() * 1000) + 10)


def test_confirmations_waiting_behind_a_backlog_are_not_sent_again_but_lost_ones_are(
    paused, smtp, run_jobs
):
    with session_scope() as session:
        ids = [
            mail.queue_prepared(
                session, kind="test", to=f"r{n}@example.org", subject="S", html="<p>H</p>", text="T"
            ).id
            for n in range(3)
        ]
    then = utcnow() - timedelta(minutes=10)
    with session_scope() as session:
        session.execute(
            update(TransactionalEmail)
            .where(TransactionalEmail.id.in_(ids))
            .values(created_at=then, next_attempt_at=then)
        )
    rows = [(i, then) for i in ids]

    _jobs_were_enqueued_then(rows, mail.DELIVER_TRANSACTIONAL, waiting=True)
    with session_scope() as session:
        outage.sweep_transactional(session)
    assert _waiting() == 3  # nothing added: their jobs are still in the queue

    _jobs_were_enqueued_then(rows, mail.DELIVER_TRANSACTIONAL, waiting=False)
    with session_scope() as session:
        outage.sweep_transactional(session)
    assert _waiting() == 1  # lost: sent again, the three by one delivery job

    paused.resume()
    run_jobs()
    paused.pause()
    for n in range(3):
        assert len(smtp.wait_for(f"r{n}@example.org")) == 1


def test_signups_waiting_behind_a_backlog_are_not_sent_again_but_lost_ones_are(
    paused, client, smtp, run_jobs
):
    make_topics()
    for n in range(3):
        response = client.post(
            "/api/v1/subscribe", json={"email": f"r{n}@example.org", "topics": ["food"]}
        )
        assert response.status_code == 202
    then = utcnow() - timedelta(minutes=10)
    with session_scope() as session:
        session.execute(update(intake.IntakeRequest).values(enqueued_at=then))
        ids = list(session.scalars(select(intake.IntakeRequest.id)))
    rows = [(i, then) for i in ids]

    _jobs_were_enqueued_then(rows, intake.PROCESS_INTAKE, waiting=True)
    with session_scope() as session:
        intake.sweep_intake(session)
    assert _waiting() == 3

    _jobs_were_enqueued_then(rows, intake.PROCESS_INTAKE, waiting=False)
    with session_scope() as session:
        intake.sweep_intake(session)
    assert _waiting() == 3

    paused.resume()
    run_jobs()
    paused.pause()
    for n in range(3):
        assert len(smtp.wait_for(f"r{n}@example.org")) == 1
