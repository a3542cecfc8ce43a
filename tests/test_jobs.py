"""Jobs are enqueued only after the transaction that justifies them commits."""

import threading

import dramatiq
import pytest
from sqlmodel import Session

from app import jobs
from app.db import get_engine, session_scope

RECORDED: list[str] = []
RECORDED_LOCK = threading.Lock()
RECORD = jobs.Job("test_record", "default")


@dramatiq.actor(actor_name=RECORD.name, queue_name=RECORD.queue, max_retries=0)
def record_value(value: str) -> None:
    with RECORDED_LOCK:
        RECORDED.append(value)


@pytest.fixture(autouse=True)
def _clear_recorded():
    RECORDED.clear()


def test_a_committed_transaction_sends_its_jobs(run_jobs):
    with session_scope() as session:
        jobs.enqueue(session, RECORD, "committed")
        jobs.enqueue(session, RECORD, "also committed")
        run_jobs()
        assert RECORDED == []  # nothing leaves before the commit
    run_jobs()
    assert sorted(RECORDED) == ["also committed", "committed"]


def test_a_savepoint_inside_the_transaction_does_not_send_its_jobs_early(run_jobs):
    """Releasing a SAVEPOINT (begin_nested, as a signup does when it inserts a new
    subscriber) is not the commit: a job queued before it must wait for the real one,
    or its worker looks for rows it cannot see yet."""
    with session_scope() as session:
        jobs.enqueue(session, RECORD, "before the savepoint")
        with session.begin_nested():
            jobs.enqueue(session, RECORD, "inside the savepoint")
        run_jobs()
        assert RECORDED == []
    run_jobs()
    assert sorted(RECORDED) == ["before the savepoint", "inside the savepoint"]


def test_a_rolled_back_transaction_sends_nothing(run_jobs):
    with pytest.raises(RuntimeError), session_scope() as session:
        jobs.enqueue(session, RECORD, "rolled back")
        raise RuntimeError("the request failed")
    with Session(get_engine()) as session:
        jobs.enqueue(session, RECORD, "explicit rollback")
        session.rollback()
        session.commit()  # a later commit of the same session must not resurrect it
    run_jobs()
    assert RECORDED == []


def test_every_job_the_app_sends_has_an_actor():
    import app.mailing.service as mail

    for job in (jobs.SWEEP, mail.DELIVER_TRANSACTIONAL):
        actor = jobs.broker.get_actor(job.name)
        assert actor.queue_name == job.queue


def test_sweeps_run_each_in_its_own_transaction_and_survive_failures():
    calls = []

    @jobs.register_sweep("test-failing")
    def failing(session):
        calls.append("failing")
        raise ValueError("boom")

    @jobs.register_sweep("test-fine")
    def fine(session):
        calls.append("fine")

    try:
        outcome = jobs.run_sweeps()
    finally:
        jobs._sweeps.pop("test-failing")
        jobs._sweeps.pop("test-fine")
    assert outcome["test-failing"] == "failed: ValueError"
    assert outcome["test-fine"] == "ok"
    assert calls == ["failing", "fine"]


@pytest.mark.redis
def test_the_sweep_tick_is_cluster_wide_once_per_interval():
    # The interval's lock a worker process from an earlier test took is gone: each test
    # starts without the app's transient Redis keys (tests/conftest.py).
    first, second = jobs.Ticker(30), jobs.Ticker(30)
    assert first.tick() is True
    assert second.tick() is False  # another process already ticked this interval


def _printed_by_a_fresh_process(code: str):  # type: ignore[no-untyped-def]
    """The JSON the last line of `code`'s output holds, run in a new interpreter with
    this test run's settings: what a `coopclub worker` process sees."""
    import json
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_worker_process_knows_every_sweep():
    """A `coopclub worker` process imports only `workers`: it must still register the
    sweeps of every domain (the web process imports more and would hide a gap)."""

    registered = set(
        _printed_by_a_fresh_process(
            "import json, workers; from app.jobs import registered_sweeps; "
            "print(json.dumps(sorted(registered_sweeps())))"
        )
    )
    import app.main  # noqa: F401  (everything the web app loads)

    assert set(jobs.registered_sweeps()) - {"test-failing", "test-fine"} <= registered


def test_a_worker_process_handles_every_kind_of_intake_request():
    """The web process records requests of several kinds (app.intake); the job that does
    them runs in a `coopclub worker` process, which imports only `workers.process`:
    every kind the app records must have its handler registered there too."""
    import re
    from pathlib import Path

    handled = set(
        _printed_by_a_fresh_process(
            "import json, workers.process; from app import intake; "
            "print(json.dumps(sorted(intake._handlers)))"
        )
    )
    app_dir = Path(__file__).resolve().parents[1] / "app"
    source = "\n".join(p.read_text() for p in app_dir.rglob("*.py"))
    recorded = set(re.findall(r'intake\.accept\(\s*session,\s*"(\w+)"', source))
    assert {"subscribe", "resend", "login", "apply"} <= recorded  # the scan finds them
    assert recorded <= handled


def test_a_savepoint_released_before_the_commit_sends_nothing_yet(run_jobs):
    with session_scope() as session:
        jobs.enqueue(session, RECORD, "before the savepoint")
        with session.begin_nested():  # releasing it fires after_commit too
            jobs.enqueue(session, RECORD, "inside the savepoint")
        run_jobs()
        assert RECORDED == []  # nothing leaves before the real commit
    run_jobs()
    assert sorted(RECORDED) == ["before the savepoint", "inside the savepoint"]
