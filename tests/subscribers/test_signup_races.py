"""Signups under real concurrency, on PostgreSQL: many simultaneous requests to a real
server, some people asking several times and in two languages, then eight jobs at once
doing them in batches (each batch a few statements for all its signups). Every request
is done exactly once, no batch fails on another's locks, each person gets one
confirmation per request, and `coopclub consent verify` passes."""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import func, select

from app import intake, jobs
from app.config import get_settings
from app.consent.models import ConsentAction, ConsentEvent
from app.db import session_scope
from app.intake import IntakeRequest
from tests.payments.conftest import live_app  # noqa: F401  (the server fixture)
from tests.subscribers.helpers import assert_ledger_verifies, make_topics, statuses

pytestmark = pytest.mark.postgres

REPEATED = [f"again{n}@example.org" for n in range(12)]  # each asks four times
ONCE = [f"once{n}@example.org" for n in range(36)]
JOBS_AT_ONCE = 8


def test_simultaneous_signups_done_by_simultaneous_batches_are_each_done_once(
    live_app,  # noqa: F811
    worker,
    smtp,
    run_jobs,
    caplog,
    monkeypatch,
):
    # One client, and people asking four times: the rate limits are off (a setting).
    monkeypatch.setattr(get_settings(), "signup_limit_per_client", 0)
    monkeypatch.setattr(get_settings(), "signup_limit_per_address", 0)
    make_topics()
    asked = [*ONCE, *REPEATED * 4]
    random.Random(15).shuffle(asked)
    worker.pause()
    try:
        with ThreadPoolExecutor(max_workers=24) as pool, httpx.Client(base_url=live_app) as http:
            # Every other request in French: a batch does English and French together.
            answers = list(
                pool.map(
                    lambda n: (
                        http.post(
                            "/api/v1/subscribe",
                            json={"email": asked[n], "topics": ["food"]},
                            headers={"Accept-Language": "fr" if n % 2 else "en"},
                        ).status_code
                    ),
                    range(len(asked)),
                )
            )
        assert answers == [202] * len(asked)
        jobs.broker.flush_all()  # the jobs below stand in for theirs, all at once
    finally:
        worker.resume()
    with session_scope() as session:
        ids = list(session.exec(select(IntakeRequest.id)).all())
    assert len(ids) == len(asked)
    barrier = threading.Barrier(JOBS_AT_ONCE)

    def job(seed: int) -> None:
        order = ids[:]
        random.Random(seed).shuffle(order)
        barrier.wait()
        for request_id in order:  # every request's job, as if each were sent eight times
            intake.run(request_id)

    with (
        caplog.at_level(logging.INFO, logger="app.intake"),
        ThreadPoolExecutor(max_workers=JOBS_AT_ONCE) as pool,
    ):
        for done in [pool.submit(job, seed) for seed in range(JOBS_AT_ONCE)]:
            done.result()
    assert [r.getMessage() for r in caplog.records if "failed" in r.getMessage()] == []
    run_jobs()
    with session_scope() as session:
        assert session.exec(select(IntakeRequest)).all() == []
        requested = session.exec(
            select(func.count()).where(ConsentEvent.action == ConsentAction.requested)
        ).one()
    assert requested == len(asked)  # one "requested" event per request
    for address in ONCE:
        assert statuses(address) == {"food": ("pending", None)}
        assert len(smtp.wait_for(address)) == 1
    for address in REPEATED:
        assert statuses(address) == {"food": ("pending", None)}
        assert len(smtp.wait_for(address, 4)) == 4
    assert_ledger_verifies(run_jobs)
