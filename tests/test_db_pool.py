"""A process keeps the connections a burst of requests needs, rather than opening a new
PostgreSQL connection for each request past the pool's size (and closing it after)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, text

from app.db import make_engine
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.postgres

AT_ONCE = 20  # more than one web process gets when 32 clients share two


def _burst(engine, opened: list[int]) -> int:  # type: ignore[no-untyped-def]
    """AT_ONCE sessions held at the same time; how many connections were opened for it."""
    before = len(opened)
    all_in = threading.Barrier(AT_ONCE)

    def one() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            all_in.wait(timeout=30)  # every one holds its connection at once

    threads = [threading.Thread(target=one) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return len(opened) - before


def test_a_second_burst_reuses_the_first_bursts_connections():
    engine = make_engine(TEST_DATABASE_URL)
    opened: list[int] = []
    event.listen(engine, "connect", lambda connection, record: opened.append(1))
    try:
        assert _burst(engine, opened) == AT_ONCE
        # With 10 kept (and 20 overflow) this opened 10 new connections every burst.
        assert _burst(engine, opened) == 0
        assert _burst(engine, opened) == 0
    finally:
        engine.dispose()
