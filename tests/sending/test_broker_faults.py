"""The broker only carries ids: a Redis restart in the middle of a send (losing every
queued message) delays the issue but loses nobody, because the sweep reads what is
unfinished from the database and sends those jobs again."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest

from app.db import session_scope, utcnow
from app.newsletters.models import Issue, IssueStatus
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.smtp_sink import free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

PROCESSES, THREADS = 2, 2


def _start_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


def _status(issue_id) -> IssueStatus:
    with session_scope() as session:
        return session.get(Issue, issue_id).status


def test_a_redis_restart_mid_send_delays_but_loses_nobody(worker, smtp, run_jobs):
    port = free_port()
    redis = _start_redis(port)
    topic = make_topic("food")
    emails = people.bulk_active(5000, topic)
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    run_jobs()
    smtp.clear()
    with session_scope() as session:  # due now: the workers' own sweep starts it
        session.get(Issue, issue.id).scheduled_at = utcnow() - timedelta(seconds=1)
    env = dict(
        os.environ,
        COOPCLUB_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        COOPCLUB_SEND_CLAIM_LEASE_SECONDS="3",
        COOPCLUB_SWEEP_INTERVAL_SECONDS="1",
        COOPCLUB_SEND_BATCH_SIZE="100",
    )
    workers = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "worker",
            "--processes",
            str(PROCESSES),
            "--threads",
            str(THREADS),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker.pause()  # the test's own worker is on another Redis; keep it out of the way
    try:
        deadline = time.monotonic() + 180
        while len(smtp.messages) < 1500:
            assert time.monotonic() < deadline, "the workers made no progress"
            time.sleep(0.02)
        redis.kill()  # every queued message is gone with it
        redis.wait(timeout=10)
        lost_at = len(smtp.messages)
        time.sleep(2)
        redis = _start_redis(port)
        deadline = time.monotonic() + 300
        while _status(issue.id) != IssueStatus.sent:
            assert time.monotonic() < deadline, "the send did not complete after Redis returned"
            time.sleep(0.2)
    finally:
        os.killpg(workers.pid, signal.SIGTERM)
        workers.wait(timeout=60)
        redis.kill()
        redis.wait(timeout=10)
        worker.resume()
    received = Counter(r for m in smtp.messages if m.message["List-Id"] for r in m.rcpt_tos)
    assert set(received) == set(emails)
    duplicates = sum(n - 1 for n in received.values())
    print(
        f"\nfaults: Redis killed after {lost_at} of {len(emails)} messages and restarted "
        f"empty; the send completed with {duplicates} duplicate(s)"
    )
    assert duplicates <= PROCESSES * THREADS
