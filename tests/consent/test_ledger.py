"""The consent ledger: `coopclub consent verify` passes on good data and names the first
bad event; on PostgreSQL the ledger refuses edits and deletions itself."""

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from app.cli import cli
from app.consent.models import ConsentEvent
from app.db import get_engine, session_scope
from app.subscribers.models import Subscription, SubscriptionStatus
from tests.conftest import ON_POSTGRES
from tests.subscribers.helpers import confirm_from_mail, make_topics


def _verify():
    return CliRunner().invoke(cli, ["consent", "verify"])


def _some_history(client, smtp, run_jobs):
    make_topics()
    for email in ("a@example.org", "b@example.org"):
        client.post(
            "/api/v1/subscribe",
            json={"email": email, "topics": ["food", "housing"], "share_with_members": True},
        )
        confirm_from_mail(client, smtp, email, run_jobs, share=True)
    client.post("/api/v1/subscribe", json={"email": "c@example.org", "topics": ["food"]})


def _edit(sql: str) -> None:
    with get_engine().begin() as conn:
        if ON_POSTGRES:  # the owner can lift the guard; an attacker with DB access might too
            conn.execute(
                text("ALTER TABLE consent_event DISABLE TRIGGER consent_event_append_only")
            )
        conn.execute(text(sql))
        if ON_POSTGRES:
            conn.execute(text("ALTER TABLE consent_event ENABLE TRIGGER consent_event_append_only"))


def test_verify_passes_on_good_data(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    result = _verify()
    assert result.exit_code == 0, result.output
    assert "OK: 17 events" in result.output


def test_verify_names_the_first_edited_event(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    with session_scope() as session:
        target = session.exec(select(ConsentEvent).where(ConsentEvent.seq == 3)).one()
    _edit(f"UPDATE consent_event SET action = 'withdrawn' WHERE id = {target.id}")
    result = _verify()
    assert result.exit_code == 1
    assert f"event {target.id} (seq 3)" in result.output and "changed" in result.output


def test_verify_catches_a_removed_event(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    _edit("DELETE FROM consent_event WHERE seq = 2")
    result = _verify()
    assert result.exit_code == 1 and "(seq 3)" in result.output


def test_verify_catches_an_active_subscription_nobody_confirmed(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    with session_scope() as session:
        pending = session.exec(
            select(Subscription).where(Subscription.status == SubscriptionStatus.pending)
        ).one()
        pending.status = SubscriptionStatus.active  # bypassing record_consent
    result = _verify()
    assert result.exit_code == 1
    assert f"subscription {pending.id} is active (topic) without a confirmation" in result.output


@pytest.mark.postgres
def test_postgres_refuses_to_edit_or_delete_the_ledger(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    for sql in (
        "UPDATE consent_event SET action = 'withdrawn' WHERE seq = 1",
        "DELETE FROM consent_event WHERE seq = 1",
        "UPDATE consent_text SET body = 'something else'",
    ):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
            conn.execute(text(sql))
    assert _verify().exit_code == 0


@pytest.mark.postgres
def test_concurrent_appends_do_not_fork_the_chain(client, smtp, run_jobs):
    from concurrent.futures import ThreadPoolExecutor

    make_topics()

    def sign_up(i: int) -> int:
        return client.post(
            "/api/v1/subscribe", json={"email": f"c{i}@example.org", "topics": ["food"]}
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(sign_up, range(16))) == {202}
    result = _verify()
    assert result.exit_code == 0 and "16 events" in result.output, result.output
