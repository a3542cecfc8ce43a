"""Real `coopclub` processes for tests that need them: a web server on a port of its own,
started with this test run's settings plus any overrides, and stopped with a signal."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

COOPCLUB = [sys.executable, "-c", "from app.cli import main; main()"]


def start(*args: str, log: Path | None = None, **env: str) -> subprocess.Popen:
    """`coopclub ARGS…` in its own process group, with COOPCLUB_* overrides from `env`;
    its log (stderr) goes to the file `log` if given."""
    with open(log or os.devnull, "ab") as stderr:
        return subprocess.Popen(
            [*COOPCLUB, *args],
            env=dict(os.environ, **env),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def serve(port: int, *args: str, log: Path | None = None, **env: str) -> subprocess.Popen:
    """`coopclub serve` on 127.0.0.1:PORT, returned once /healthz answers 200."""
    process = start("serve", "--port", str(port), *args, log=log, **env)
    wait_healthy(f"http://127.0.0.1:{port}", process)
    return process


def wait_healthy(url: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process is None or process.poll() is None, "the server exited"
        assert time.monotonic() < deadline, f"{url} did not become healthy"
        time.sleep(0.1)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    """Signal the process group and wait for it; returns the exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    return process.wait(timeout=60)
