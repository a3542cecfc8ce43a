"""What an operator sees: JSON logs with a request id and no personal data, Prometheus
metrics behind a token with the counts that happened, and /readyz going stale when no
sweep (so no worker) has run for the configured time."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx

from app import jobs
from app.config import get_settings
from tests import processes
from tests.smtp_sink import free_port
from tests.subscribers.helpers import make_topics


def test_json_logs_carry_a_request_id_and_no_tokens_or_addresses(tmp_path):
    make_topics()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "server.log"
    with log_file.open("w") as stderr:
        server = subprocess.Popen(
            [*processes.COOPCLUB, "serve", "--port", str(port)],
            env=dict(os.environ, COOPCLUB_LOG_FORMAT="json"),
            start_new_session=True,
            stdout=stderr,
            stderr=stderr,
        )
        try:
            processes.wait_healthy(url, server)
            signup = httpx.post(
                f"{url}/api/v1/subscribe",
                json={"email": "private.person@example.org", "topics": ["food"]},
            )
            link = httpx.get(f"{url}/confirm/secret-token-abcdef.0123.456789abcdef0123")
        finally:
            processes.stop(server)
    assert signup.status_code == 202
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    requests = {line["route"]: line for line in lines if line["logger"] == "coopclub.request"}
    assert requests["/api/v1/subscribe"]["request_id"] == signup.headers["x-request-id"]
    assert requests["/api/v1/subscribe"]["status"] == 202
    assert requests["/confirm/{token}"]["request_id"] == link.headers["x-request-id"]
    text = log_file.read_text()
    assert "private.person" not in text and "secret-token" not in text
    assert "127.0.0.1:" not in text.replace(f"127.0.0.1:{port}", "")  # no client address


def test_metrics_need_the_token_and_show_the_counts_that_happened(client, monkeypatch):
    make_topics()
    assert client.get("/metrics").status_code == 404  # off without a token
    monkeypatch.setattr(get_settings(), "metrics_token", "metrics-token-0123456789")
    assert client.get("/metrics").status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    for n in range(3):
        answer = client.post(
            "/api/v1/subscribe", json={"email": f"m{n}@example.org", "topics": ["food"]}
        )
        assert answer.status_code == 202
    client.get("/healthz")
    page = client.get("/metrics", headers={"authorization": "Bearer metrics-token-0123456789"})
    assert page.status_code == 200
    metrics = page.text
    assert 'coopclub_consent_events{status="requested"} 3.0' in metrics
    # Three confirmations, whatever state the (running) worker has taken them to yet.
    mail_lines = [
        line for line in metrics.splitlines() if line.startswith("coopclub_transactional_emails{")
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in mail_lines) == 3.0, mail_lines
    assert (
        'coopclub_http_requests_total{method="POST",route="/api/v1/subscribe",status="202"}'
        in metrics
    )
    assert "coopclub_sweep_age_seconds -1.0" in metrics  # no sweep in this test
    assert "m0@example.org" not in metrics


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
