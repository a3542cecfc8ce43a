"""The sequencer's full scan: an event whose inserting transaction stayed open longer
than the scan horizon is passed over by the regular runs, shows as lag, and is sequenced
by the workers' sweep without anyone running `coopclub consent sequence --full`. The
scan's floor (what makes it cheap) never passes an event a running transaction may
still commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from app import jobs
from app.cli import cli
from app.config import get_settings
from app.consent import log as consent_log
from app.consent import logscan
from app.db import get_engine, session_scope, utcnow
from tests.consent.test_ledger import _some_history
from tests.test_observability import metric

LATE = "INSERT INTO consent_event (subscriber_key, scope, action, source, occurred_at) "
LATE += "VALUES ('late', 'topic', 'withdrawn', 'form', :at) RETURNING id"


def _lag(client, monkeypatch) -> float:
    monkeypatch.setattr(get_settings(), "metrics_token", "metrics-token-0123456789")
    page = client.get("/metrics", headers={"authorization": "Bearer metrics-token-0123456789"})
    return metric(page.text, "coopclub_consent_log_lag_seconds")


def _in_log(event_id: int) -> bool:
    with session_scope() as session:
        return event_id in consent_log.log_positions(session, [event_id])


def _regular_run() -> consent_log.Integration:
    with session_scope() as session:
        return consent_log.integrate(session, wait=True)


def _scan() -> None:
    with session_scope() as session:
        consent_log.scan_all(session)


def _new_event(client, run_jobs, email: str) -> None:
    client.post("/api/v1/subscribe", json={"email": email, "topics": ["food"]})
    run_jobs()


def test_an_event_behind_the_horizon_is_found_by_the_sweep(client, smtp, run_jobs, monkeypatch):
    _some_history(client, smtp, run_jobs)  # sequenced: the window starts 10 minutes ago
    with get_engine().begin() as conn:  # recorded 30 minutes ago, committed only now
        late = conn.execute(text(LATE), {"at": utcnow() - timedelta(minutes=30)}).scalar()
    assert _regular_run().integrated == 0 and not _in_log(late)  # passed over
    assert _lag(client, monkeypatch) >= 30 * 60  # but the lag shows it

    assert jobs.run_sweeps()["consent-log-full-scan"] == "ok"
    assert _in_log(late)
    assert _lag(client, monkeypatch) == 0
    assert CliRunner().invoke(cli, ["consent", "verify"]).exit_code == 0


@pytest.mark.postgres
def test_a_transaction_held_open_past_the_horizon(client, smtp, run_jobs, monkeypatch):
    _some_history(client, smtp, run_jobs)
    held = get_engine().connect()
    try:
        held.begin()
        # Inserted now, committed later: the old occurred_at stands for the minutes the
        # transaction stays open while the sequencer moves its window on.
        late = held.execute(text(LATE), {"at": utcnow() - timedelta(minutes=30)}).scalar()
        for n in range(4):  # events after it are committed and sequenced meanwhile
            _new_event(client, run_jobs, f"after{n}@example.org")
            assert _regular_run().integrated == 1
            _scan()  # full scans (each takes a mark) cannot see it yet
            assert logscan.load_state().floor <= late  # nor may the floor pass it
        held.commit()
    finally:
        held.close()
    assert _regular_run().integrated == 0 and not _in_log(late)
    assert _lag(client, monkeypatch) >= 30 * 60

    assert jobs.run_sweeps()["consent-log-full-scan"] == "ok"  # the workers' sweep
    assert _in_log(late) and _lag(client, monkeypatch) == 0
    for _ in range(3):  # nothing is held open now: the floor moves past it
        _scan()
    assert logscan.load_state().floor > late
    assert CliRunner().invoke(cli, ["consent", "verify"]).exit_code == 0
