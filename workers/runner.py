"""`coopclub worker`: Dramatiq worker processes against Redis, plus the sweep ticker."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

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
    `nice`; the processes it starts inherit it.

    A nice value ranks a process only against the processes of its own scheduling
    group. On Linux with autogroups (on by default in Debian's and Ubuntu's kernels:
    /proc/sys/kernel/sched_autogroup_enabled) every session is such a group, and the
    CPUs are shared fairly between groups whatever the nice values inside them; web and
    worker processes started from different shells or as different systemd units are in
    different sessions, so a nice value alone left a signup request waiting behind the
    jobs as before (bench/RESULTS.md: p99 1.0 s at 170 signups/s with it, 18 ms with the
    group lowered too). So a lowered process starts a session of its own and lowers that
    session's group as well; as it is then outside this process's process group, it is
    sent SIGTERM if this process dies."""
    if nice <= 0:
        return subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
    parent = os.getpid()
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        start_new_session=True,
        preexec_fn=lambda: lower_priority(nice, parent=parent),  # noqa: PLW1509
    )


_PR_SET_PDEATHSIG = 1
_libc = None
with contextlib.suppress(OSError):
    _libc = ctypes.CDLL(None, use_errno=True)  # loaded here: not in a child before exec


def lower_priority(nice: int, *, parent: int | None = None) -> None:
    """In a child before exec (where logging is not safe, so nothing is said if the
    system refuses): lower this process's CPU priority by `nice`, and its session's
    autogroup's to `nice`; with `parent`, ask for SIGTERM when that process dies (and
    stop at once if it already has)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(nice)
    if parent is not None:
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)
    # The kernel takes one such write every 100 ms from an unprivileged process
    # (EAGAIN otherwise); another worker may be starting at the same moment.
    for _ in range(10):
        try:
            with open("/proc/self/autogroup", "w") as group:
                group.write(str(nice))
            return
        except BlockingIOError:
            time.sleep(0.11)
        except OSError:
            return  # no autogroups in this kernel: the nice value is all there is


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
    # On a machine shared with web processes, every worker process can run at a lower
    # CPU priority (COOPCLUB_WORKER_NICE), so that the next request runs first and the
    # jobs take what the requests leave (docs/deploy.md). Lowering only the transactional
    # processes was not enough: with the sequencer's and the sends' processes at the web
    # processes' priority, signups paced at 200/s got p99 0.1-3.8 s; with all of them
    # lowered, 24-60 ms (bench/RESULTS.md). This process only ticks and keeps its own.
    nice = settings.worker_nice
    children = [
        _dramatiq(processes, threads, others, nice=nice),
        _dramatiq(
            processes, settings.transactional_worker_threads, [jobs.TRANSACTIONAL_QUEUE], nice=nice
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
