"""SIGTERM to a web process finishes the requests in flight (issue 19), as systemd's
`systemctl stop` sends it (deploy/systemd/coopclub-web.service, KillMode=mixed: the main
process only): the signup a visitor is sending when the signal arrives still gets its
normal answer and is recorded, and the process then ends by itself within `coopclub
serve`'s 30-second grace period, refusing new connections from then on (a single web
process refuses them from the signal on).

The request is in flight for certain, with no sleeping: it says `Expect: 100-continue`
(as curl does for large bodies), and uvicorn sends "100 Continue" only once the app has
started on the request and asks for its body. The rest of the body is sent only once
every web process has logged that it is shutting down.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import select

from app.db import session_scope
from app.subscribers.models import Subscriber
from tests import processes
from tests.smtp_sink import free_port
from tests.subscribers.helpers import make_topics

GRACE_SECONDS = 30  # timeout_graceful_shutdown in app/cli.py's `serve`


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _wait_until_refused(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + GRACE_SECONDS
    while not _refused(port):
        assert server.poll() is None, "the server ended before it stopped listening"
        assert time.monotonic() < deadline, "new connections were still accepted"
        time.sleep(0.05)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The whole answer: the server closes the connection after it (it is shutting down)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


def _wait_until_logged(log: Path, line: str, times: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + GRACE_SECONDS
    while log.read_text(errors="replace").count(line) < times:
        assert server.poll() is None, "the server ended before it logged " + line
        assert time.monotonic() < deadline, f"{line!r} was not logged {times} time(s)"
        time.sleep(0.05)


def _signup_in_flight_across_sigterm(web_workers: int, run_jobs, log: Path) -> int:  # type: ignore[no-untyped-def]
    """Returns the exit code of `coopclub serve --workers WEB_WORKERS`."""
    make_topics()
    port = free_port()
    server = processes.serve(port, "--workers", str(web_workers), log=log)
    email = f"in-flight-{web_workers}@example.org"
    body = json.dumps({"email": email, "topics": ["food"]}).encode()
    head = (
        f"POST /api/v1/subscribe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=GRACE_SECONDS * 2) as sock:
            sock.sendall(head)
            interim = b""
            while b"\r\n\r\n" not in interim:
                interim += sock.recv(1)
            assert interim.startswith(b"HTTP/1.1 100 "), interim  # the app is on it

            os.kill(server.pid, signal.SIGTERM)  # systemctl stop, KillMode=mixed
            signalled = time.monotonic()
            # Every web process has begun its graceful shutdown (uvicorn logs this line
            # when it does) while the request is still unanswered.
            _wait_until_logged(log, "Shutting down", web_workers, server)
            if web_workers == 1:
                _wait_until_refused(port, server)  # stopped listening...
            assert server.poll() is None  # ...but still serving the request in flight

            sock.sendall(body)
            status, headers, answer = _read_response(sock)
        code = server.wait(timeout=GRACE_SECONDS)
        ended_after = time.monotonic() - signalled
    finally:
        if server.poll() is None:
            processes.stop(server, signal.SIGKILL)

    assert (status, json.loads(answer)) == (202, {"status": "pending"}), answer
    assert headers.get("connection") == "close"  # no more requests on this connection
    run_jobs()  # with a shared broker the signup's job is left to the workers
    with session_scope() as session:
        assert session.exec(select(Subscriber).where(Subscriber.email == email)).one()
    assert _refused(port)
    assert "graceful shutdown exceeded" not in log.read_text(errors="replace")
    print(f"\nweb SIGTERM ({web_workers} process(es)): ended {ended_after:.1f} s after it")
    return code


def test_sigterm_lets_the_signup_in_flight_finish(run_jobs, tmp_path):
    """One process: the embedded default (jobs in the web process too), or one web process
    on a shared broker. It stops listening at once: new connections are refused while the
    request in flight is still being answered."""
    code = _signup_in_flight_across_sigterm(1, run_jobs, tmp_path / "serve.log")
    # uvicorn raises the SIGTERM again once it has shut down gracefully, so the process
    # ends "killed by SIGTERM": systemd counts that as a clean stop (no failure, no restart
    # under Restart=on-failure), as it does exit 0.
    assert code == -signal.SIGTERM


@pytest.mark.redis
def test_sigterm_to_the_main_process_lets_each_web_process_finish_its_request(run_jobs, tmp_path):
    """`--workers 2`, as the systemd unit runs it: the signal goes to uvicorn's main process,
    which passes it on to both web processes, one of which holds the request. (The main
    process keeps the listening socket until it exits, so new connections are not refused
    during the grace period: the kernel queues them and they are reset at the exit;
    docs/deploy.md says to take a web machine out of the proxy's rotation first.)"""
    assert _signup_in_flight_across_sigterm(2, run_jobs, tmp_path / "serve.log") == 0
