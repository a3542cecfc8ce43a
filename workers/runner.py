"""`coopclub worker`: Dramatiq worker processes against Redis, plus the sweep ticker."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading

from app import jobs
from app.config import get_settings

log = logging.getLogger(__name__)


def run(processes: int, threads: int) -> int:
    settings = get_settings()
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    child = subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
    tickers = jobs.tickers(settings.sweep_interval_seconds)
    for ticker in tickers:
        ticker.start()
    stopping = threading.Event()

    def forward(signum: int, _frame: object) -> None:
        stopping.set()
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        tickers[0].tick()  # the sweep: pick up unfinished work at once
    except Exception:
        log.warning("first sweep tick failed (is Redis up?); the ticker keeps trying")
    code = child.wait()
    for ticker in tickers:
        ticker.stop()
    return code
