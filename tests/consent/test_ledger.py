"""The consent ledger: `coopclub consent verify` passes on good data and names the first
bad event, a removed one or a rewritten tree; on PostgreSQL the ledger and the log refuse
edits and deletions themselves."""

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from app.cli import cli
from app.consent import log as consent_log
from app.consent.logverify import leaf_hash
from app.consent.models import ConsentEvent, ConsentLogEntry
from app.db import get_engine, session_scope
from app.subscribers.models import Subscription, SubscriptionStatus
from tests.conftest import ON_POSTGRES
from tests.subscribers.helpers import confirm_from_mail, make_topics


def _verify():
    return CliRunner().invoke(cli, ["consent", "verify"])


def _sequence():
    result = CliRunner().invoke(cli, ["consent", "sequence"])
    assert result.exit_code == 0, result.output


def _some_history(client, smtp, run_jobs):
    make_topics()
    for email in ("a@example.org", "b@example.org"):
        client.post(
            "/api/v1/subscribe",
            json={"email": email, "topics": ["food", "housing"], "share_with_members": True},
        )
        confirm_from_mail(client, smtp, email, run_jobs)
    client.post("/api/v1/subscribe", json={"email": "c@example.org", "topics": ["food"]})
    run_jobs()
    _sequence()


LEDGER_TABLES = ("consent_event", "consent_log_entry", "consent_log_node", "consent_checkpoint")


def _edit(*statements: str) -> None:
    """What an operator with the owner's database role can do: lift the guards, edit."""
    with get_engine().begin() as conn:
        if ON_POSTGRES:
            for table in LEDGER_TABLES:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        for sql in statements:
            conn.execute(text(sql))
        if ON_POSTGRES:
            for table in LEDGER_TABLES:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))


def _logged(index: int) -> ConsentEvent:
    with session_scope() as session:
        return session.exec(
            select(ConsentEvent)
            .join(ConsentLogEntry, ConsentLogEntry.event_id == ConsentEvent.id)
            .where(ConsentLogEntry.log_index == index)
        ).one()


def test_verify_passes_on_good_data(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    result = _verify()
    assert result.exit_code == 0, result.output
    assert "OK: 17 events in the log" in result.output


def test_verify_names_the_first_edited_event(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    target = _logged(3)
    _edit(f"UPDATE consent_event SET action = 'withdrawn' WHERE id = {target.id}")
    result = _verify()
    assert result.exit_code == 1
    assert f"event {target.id} (log index 3)" in result.output and "changed" in result.output


def test_verify_catches_a_removed_event(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    target = _logged(2)
    _edit(
        "DELETE FROM consent_log_entry WHERE log_index = 2",
        f"DELETE FROM consent_event WHERE id = {target.id}",
    )
    result = _verify()
    assert result.exit_code == 1 and "log index 2: missing from the log" in result.output


def test_verify_catches_a_rewritten_tree(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    target = _logged(5)
    # Edit the event and its leaf hash too: the tree no longer hashes to the signed root.
    _edit(f"UPDATE consent_event SET action = 'withdrawn' WHERE id = {target.id}")
    with session_scope() as session:
        event = session.get(ConsentEvent, target.id)
        digest = leaf_hash(consent_log.leaf_bytes(event)).hex()
    hex_literal = f"'\\x{digest}'::bytea" if ON_POSTGRES else f"X'{digest}'"
    _edit(f"UPDATE consent_log_node SET hash = {hex_literal} WHERE level = 0 AND position = 5")
    result = _verify()
    assert result.exit_code == 1 and "no longer hash to the signed root" in result.output


def test_events_never_sequenced_are_reported(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    old = "2000-01-01 00:00:00"
    _edit(
        "INSERT INTO consent_event (subscriber_key, scope, action, source, occurred_at) "
        f"VALUES ('k', 'topic', 'withdrawn', 'form', '{old}')"
    )
    result = _verify()
    assert result.exit_code == 1 and "1 events were never sequenced" in result.output
    full = CliRunner().invoke(cli, ["consent", "sequence", "--full"])
    assert "integrated 1 events" in full.output
    assert _verify().exit_code == 0


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
        "UPDATE consent_event SET action = 'withdrawn' WHERE id = 1",
        "DELETE FROM consent_event WHERE id = 1",
        "UPDATE consent_text SET body = 'something else'",
        "DELETE FROM consent_log_entry WHERE log_index = 1",
        "UPDATE consent_log_node SET hash = hash WHERE level = 0",
        "DELETE FROM consent_checkpoint",
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
    _sequence()
    result = _verify()
    assert result.exit_code == 0 and "16 events" in result.output, result.output
