"""SIGTERM to a `coopclub worker` in the middle of a batch: the message in hand
finishes, the rest of the batch goes back to the queue for another worker, and nothing
is sent twice or left claimed."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlmodel import select

from app.db import session_scope
from app.newsletters.models import Issue, IssueStatus
from app.sending.models import Delivery, DeliveryStatus
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

RECIPIENTS = 600


def _statuses(issue_id) -> Counter:
    with session_scope() as session:
        return Counter(
            d.status for d in session.exec(select(Delivery).where(Delivery.issue_id == issue_id))
        )


def test_sigterm_mid_batch_gives_the_rest_back_without_duplicates(worker, smtp, run_jobs):
    topic = make_topic("food")
    emails = people.bulk_active(RECIPIENTS, topic)
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    run_jobs()
    smtp.clear()
    worker.pause()  # only the worker process below works until it is stopped
    env = dict(
        os.environ,
        COOPCLUB_SEND_BATCH_SIZE=str(RECIPIENTS),  # one batch: SIGTERM lands inside it
        COOPCLUB_SEND_RATE_PER_SECOND="100",
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "worker"]
        + ["--processes", "1", "--threads", "1"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        people.start_now(issue)
        deadline = time.monotonic() + 120
        while len(smtp.messages) < 100:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGTERM)  # as systemd stops the service
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    stopped = _statuses(issue.id)
    assert stopped[DeliveryStatus.sending] == 0  # no claim left behind
    assert 0 < stopped[DeliveryStatus.sent] < RECIPIENTS  # it really stopped mid-batch
    received = Counter(r for m in smtp.messages if m.message["List-Id"] for r in m.rcpt_tos)
    assert sum(received.values()) == stopped[DeliveryStatus.sent]  # the one in hand finished
    worker.resume()  # another worker takes the batch's rest from the queue
    deadline = time.monotonic() + 120
    while True:
        with session_scope() as session:
            if session.get(Issue, issue.id).status == IssueStatus.sent:
                break
        assert time.monotonic() < deadline, "the rest of the batch was not sent"
        time.sleep(0.1)
    run_jobs()
    received = Counter(r for m in smtp.messages if m.message["List-Id"] for r in m.rcpt_tos)
    assert received == Counter(emails)  # everyone once: nobody lost, nobody twice
