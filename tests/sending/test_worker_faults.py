"""Real `coopclub worker` processes killed with SIGKILL in the middle of a send: after a
restart everyone eligible has the issue, and duplicates are at most the messages that
were in flight on the killed connections."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from app import jobs
from app.db import session_scope
from app.newsletters.models import Issue, IssueStatus
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PROCESSES = 2
THREADS = 4
RECIPIENTS = 6_000  # 60 batches of 100: room for a kill in each half


def _spawn_worker() -> subprocess.Popen:
    env = dict(
        os.environ,
        COOPCLUB_SEND_CLAIM_LEASE_SECONDS="3",
        COOPCLUB_SWEEP_INTERVAL_SECONDS="1",
        COOPCLUB_SEND_BATCH_SIZE="100",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "worker",
            "--processes",
            "1",
            "--threads",
            str(THREADS),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
    os.killpg(process.pid, sig)
    process.wait(timeout=30)


def _status(issue_id) -> IssueStatus:
    with session_scope() as session:
        return session.get(Issue, issue_id).status


def test_killed_workers_lose_nobody_and_double_only_what_was_in_flight(worker, smtp, run_jobs):
    topic = make_topic("food")
    emails = people.bulk_active(RECIPIENTS, topic)
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    run_jobs()
    smtp.clear()
    worker.pause()  # only the real worker processes below may work on this issue
    processes = []
    kills = 0
    try:
        people.start_now(issue)
        # Two kills at random points, one in each half of the send.
        half = RECIPIENTS // 2
        for kill_after in (random.randint(300, half - 300), random.randint(half, RECIPIENTS - 600)):
            process = _spawn_worker()
            processes.append(process)
            deadline = time.monotonic() + 180
            while len(smtp.messages) < kill_after:
                assert time.monotonic() < deadline, "the worker made no progress"
                time.sleep(0.02)
            _kill(process)
            kills += 1
        process = _spawn_worker()
        processes.append(process)
        deadline = time.monotonic() + 300
        while _status(issue.id) != IssueStatus.sent:
            assert time.monotonic() < deadline, "the issue did not finish after the restarts"
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                _kill(process, signal.SIGTERM)
        # The killed workers' unacknowledged messages would wait for Redis maintenance
        # (a minute) before anyone may take them; the issue is done, so drop them.
        jobs.broker.flush_all()
        worker.resume()
    received = Counter(r for m in smtp.messages if m.message["List-Id"] for r in m.rcpt_tos)
    assert set(received) == set(emails)  # nobody lost
    duplicates = sum(n - 1 for n in received.values())
    print(
        f"\nfaults: {kills} SIGKILLs during a {len(emails)}-recipient send; "
        f"{duplicates} duplicate(s) (bound: {kills * THREADS} in flight)"
    )
    assert duplicates <= kills * THREADS
