"""What an operator sees: JSON logs with a request id and no personal data, Prometheus
metrics behind a token with the counts that happened, and /readyz going stale when no
sweep (so no worker) has run for the configured time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest

from app import jobs
from app.config import get_settings
from app.consent import log as consent_log
from app.db import session_scope
from tests import processes
from tests.smtp_sink import free_port
from tests.subscribers.helpers import make_topics


def serve_and_log(tmp_path, log_format: str, requests) -> str:  # type: ignore[no-untyped-def]
    """Run `coopclub serve` with COOPCLUB_LOG_FORMAT, call `requests(url)`, return the log."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "server.log"
    with log_file.open("w") as stderr:
        server = subprocess.Popen(
            [*processes.COOPCLUB, "serve", "--port", str(port)],
            env=dict(os.environ, COOPCLUB_LOG_FORMAT=log_format),
            start_new_session=True,
            stdout=stderr,
            stderr=stderr,
        )
        try:
            processes.wait_healthy(url, server)
            requests(url)
        finally:
            processes.stop(server)
    return log_file.read_text()


def test_json_logs_carry_a_request_id_and_no_tokens_or_addresses(tmp_path):
    make_topics()
    answers = []

    def requests(url: str) -> None:
        answers.append(
            httpx.post(
                f"{url}/api/v1/subscribe",
                json={"email": "private.person@example.org", "topics": ["food"]},
            )
        )
        answers.append(httpx.get(f"{url}/confirm/secret-token-abcdef.0123.456789abcdef0123"))

    text = serve_and_log(tmp_path, "json", requests)
    signup, link = answers
    assert signup.status_code == 202
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests_logged = {
        line["route"]: line for line in lines if line["logger"] == "coopclub.request"
    }
    assert requests_logged["/api/v1/subscribe"]["request_id"] == signup.headers["x-request-id"]
    assert requests_logged["/api/v1/subscribe"]["status"] == 202
    assert requests_logged["/confirm/{token}"]["request_id"] == link.headers["x-request-id"]
    assert "private.person" not in text and "secret-token" not in text
    port = signup.url.port
    assert "127.0.0.1:" not in text.replace(f"127.0.0.1:{port}", "")  # no client address


def test_text_logs_name_each_request_once_by_its_route(tmp_path):
    text = serve_and_log(
        tmp_path,
        "text",
        lambda url: httpx.get(f"{url}/confirm/secret-token-abcdef.0123.456789abcdef0123"),
    )
    lines = [line for line in text.splitlines() if "/confirm/" in line]
    assert len(lines) == 1, lines  # not once by uvicorn and once by us
    assert "coopclub.request: GET /confirm/{token} " in lines[0]
    assert "secret-token" not in text


@pytest.mark.redis
def test_worker_processes_log_json_too(tmp_path):
    log_file = tmp_path / "worker.log"
    with log_file.open("w") as stderr:
        worker = subprocess.Popen(
            [*processes.COOPCLUB, "worker", "--processes", "1", "--threads", "1"],
            env=dict(os.environ, COOPCLUB_LOG_FORMAT="json"),
            start_new_session=True,
            stdout=stderr,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 60
            while log_file.read_text().count("ready for action") < 2:  # both sets of processes
                assert time.monotonic() < deadline and worker.poll() is None, log_file.read_text()
                time.sleep(0.2)
        finally:
            os.kill(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    ready = [line for line in lines if "ready for action" in line["message"]]
    assert len(ready) == 2 and all(line["logger"].startswith("dramatiq") for line in ready)


def metric(page: str, name: str) -> float:
    """The value of one sample (`name` with its labels, as written) in a scrape."""
    for line in page.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_need_the_token_and_show_the_counts_that_happened(client, monkeypatch, run_jobs):
    make_topics()
    assert client.get("/metrics").status_code == 404  # off without a token
    monkeypatch.setattr(get_settings(), "metrics_token", "metrics-token-0123456789")
    assert client.get("/metrics").status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    token = {"authorization": "Bearer metrics-token-0123456789"}
    # Counters live as long as the process: compare with a scrape before.
    before = client.get("/metrics", headers=token).text
    for n in range(3):
        answer = client.post(
            "/api/v1/subscribe", json={"email": f"m{n}@example.org", "topics": ["food"]}
        )
        assert answer.status_code == 202
    # A signup that fails (unknown topic) rolls back and counts nothing.
    assert client.post("/api/v1/subscribe", json={"email": "x@example.org", "topics": ["no"]})
    page = client.get("/metrics", headers=token)
    assert page.status_code == 200
    waiting = metric(page.text, 'coopclub_transactional_waiting{status="queued"}') + metric(
        page.text, 'coopclub_transactional_waiting{status="sending"}'
    )
    run_jobs()
    # Requests are not sequenced at once (confirmations are): the log lags behind them.
    unsequenced = client.get("/metrics", headers=token).text
    assert metric(unsequenced, "coopclub_consent_log_lag_seconds") > 0
    with session_scope() as session:
        consent_log.integrate(session, wait=True)
    after = client.get("/metrics", headers=token).text

    def grew(name: str) -> float:
        return metric(after, name) - metric(before, name)

    assert grew('coopclub_consent_events_total{action="requested"}') == 3
    assert grew('coopclub_messages_total{outcome="sent",queue="transactional"}') == 3
    # One delivery job sends the confirmations its intake batch wrote: one to three jobs.
    assert 1 <= grew('coopclub_jobs_total{actor="deliver_transactional",outcome="ok"}') <= 3
    assert 0 <= waiting <= 3  # the running worker may have sent some already
    assert metric(after, 'coopclub_transactional_waiting{status="queued"}') == 0
    assert metric(after, "coopclub_consent_log_size") == 3
    assert metric(after, "coopclub_consent_log_lag_seconds") == 0
    assert (
        'coopclub_http_requests_total{method="POST",route="/api/v1/subscribe",status="202"}'
        in after
    )
    assert "coopclub_sweep_age_seconds -1.0" in after  # no sweep in this test
    assert "m0@example.org" not in after


def test_readyz_is_stale_until_a_sweep_runs_and_again_when_none_has_for_too_long(
    client, monkeypatch
):
    stale = client.get("/readyz")
    assert stale.status_code == 503 and stale.json()["status"] == "stale"
    jobs.run_sweeps()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    monkeypatch.setattr(get_settings(), "ready_stale_seconds", 0.2)
    time.sleep(0.3)
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200  # the cheap check does not care
