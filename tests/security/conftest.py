"""Figures the security tests report at the end of the run (the lead quotes them;
tests/conftest.py prints them, summed over pytest-xdist's workers)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import uvicorn

from tests.smtp_sink import free_port

FIGURES: Counter[str] = Counter()


@pytest.fixture
def live_server():
    """The app behind a real uvicorn server, logging through the standard loggers."""
    port = free_port()
    from tests.security.test_authorization_matrix import APP

    config = uvicorn.Config(APP, host="127.0.0.1", port=port, log_config=None, access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
