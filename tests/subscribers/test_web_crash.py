"""A web server that dies right after a signup commits, taking its broker (and the
request's job in it) along, loses nothing: the sweep finds the request still recorded
in the database, and its job sends the confirmation."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from app import jobs
from app.config import get_settings
from app.db import session_scope, utcnow
from app.intake import STALE_AFTER, IntakeRequest
from tests.sending.test_broker_faults import _start_redis
from tests.smtp_sink import free_port
from tests.subscribers.helpers import make_topics

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_the_sweep_delivers_a_confirmation_whose_web_server_and_broker_died(
    smtp, run_jobs, monkeypatch
):
    make_topics()
    broker_port, web_port = free_port(), free_port()
    doomed_redis = _start_redis(broker_port)
    env = dict(os.environ, COOPCLUB_REDIS_URL=f"redis://127.0.0.1:{broker_port}/0")
    web = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "serve",
            "--port",
            str(web_port),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{web_port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the web server did not start"
            time.sleep(0.1)
        response = httpx.post(
            f"http://127.0.0.1:{web_port}/api/v1/subscribe",
            json={"email": "survivor@example.org", "topics": ["food"]},
        )
        assert response.status_code == 202
    finally:
        # The web server and its broker die: no worker ever saw the confirmation job.
        os.killpg(web.pid, signal.SIGKILL)
        web.wait(timeout=30)
        doomed_redis.kill()
        doomed_redis.wait(timeout=10)
    run_jobs()
    assert smtp.to("survivor@example.org") == []
    # Time passes: the request's row (its job died with the broker) is overdue.
    with session_scope() as session:
        session.execute(
            update(IntakeRequest).values(enqueued_at=utcnow() - STALE_AFTER - timedelta(seconds=1))
        )
    monkeypatch.setattr(get_settings(), "transactional_retry_after_seconds", 0.1)
    time.sleep(0.2)
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    (mail,) = smtp.wait_for("survivor@example.org")
    assert "/confirm/" in mail.text()
