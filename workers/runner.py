"""`coopclub worker`: Dramatiq worker processes against Redis, plus the sweep ticker."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading

from app import jobs
from app.config import get_settings

log = logging.getLogger(__name__)


def _dramatiq(
    processes: int, threads: int, queues: list[str], *, nice: int = 0
) -> subprocess.Popen:
    # workers.process sets up logging as coopclub does (JSON with COOPCLUB_LOG_FORMAT=json).
    command = [sys.executable, "-m", "dramatiq", "workers.process", "--skip-logging"]
    command += ["--processes", str(processes), "--threads", str(threads), "--queues", *queues]
    return start(command, nice=nice)


def start(command: list[str], *, nice: int = 0) -> subprocess.Popen:
    """Start `command` (our own interpreter and module) with its CPU priority lowered by
    `nice`; the processes it starts inherit it."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        preexec_fn=(lambda: lower_priority(nice)) if nice > 0 else None,  # noqa: PLW1509
    )


def lower_priority(nice: int) -> None:
    """Lower this process's CPU priority by `nice` (nothing to say if it cannot: it runs
    in a child before exec, where logging is not safe)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)


def serve_metrics(port: int) -> None:
    """Serve the counters of every process sharing PROMETHEUS_MULTIPROC_DIR (made here
    when unset, before the worker processes start and inherit it) on `port`."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
        prefix="coopclub-metrics-"
    )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    start_http_server(port, registry=registry)
    log.info("worker metrics on port %d, from %s", port, directory)


def run(processes: int, threads: int, *, metrics_port: int | None = None) -> int:
    """Two sets of worker processes: transactional mail alone on its own threads (so a
    long newsletter send never delays a login link), and every other queue."""
    if metrics_port is not None:
        serve_metrics(metrics_port)
    import workers  # noqa: F401  (declares the actors, hence the queues)

    settings = get_settings()
    others = sorted(set(jobs.broker.get_declared_queues()) - {jobs.TRANSACTIONAL_QUEUE})
    # The transactional processes do the work that follows a person's request (a
    # signup's or login's job and its mail) at a lower CPU priority, so that on a
    # machine shared with web processes the next request runs first (docs/deploy.md);
    # the others (the consent log's sequencer among them) keep theirs.
    children = [
        _dramatiq(processes, threads, others),
        _dramatiq(
            processes,
            settings.transactional_worker_threads,
            [jobs.TRANSACTIONAL_QUEUE],
            nice=settings.transactional_worker_nice,
        ),
    ]
    tickers = jobs.tickers(settings.sweep_interval_seconds)
    for ticker in tickers:
        ticker.start()
    stopping = threading.Event()

    def forward(signum: int, _frame: object) -> None:
        # Each child stops gracefully: its batches finish the message in hand and give
        # back the rest (a second signal would make Dramatiq kill its processes).
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        tickers[0].tick()  # the sweep: pick up unfinished work at once
    except Exception:
        log.warning("first sweep tick failed (is Redis up?); the ticker keeps trying")
    codes = [child.wait() for child in children]
    for ticker in tickers:
        ticker.stop()
    return max(codes)
