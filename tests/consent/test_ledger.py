"""The consent ledger: `coopclub consent verify` passes on good data and names the first
bad event, a removed one or a rewritten tree; on PostgreSQL the ledger and the log refuse
edits and deletions themselves."""

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from app import signing
from app.cli import cli
from app.consent import log as consent_log
from app.consent import receipts
from app.consent.logverify import leaf_hash
from app.consent.models import (
    GENESIS_HASH,
    ConsentAction,
    ConsentEvent,
    ConsentLogEntry,
    ConsentScope,
    ConsentSource,
)
from app.consent.service import event_hash
from app.db import get_engine, session_scope
from app.subscribers.models import Subscription, SubscriptionStatus
from tests.conftest import ON_POSTGRES, guards_lifted, owner_engine
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
        confirm_from_mail(client, smtp, email, run_jobs, share=True)
    client.post("/api/v1/subscribe", json={"email": "c@example.org", "topics": ["food"]})
    run_jobs()
    _sequence()


LEDGER_TABLES = ("consent_event", "consent_log_entry", "consent_log_node", "consent_checkpoint")


def _edit(*statements: str) -> None:
    """What an operator with the owner's database role can do: lift the guards, edit."""
    with owner_engine().begin() as conn, guards_lifted(conn):
        for sql in statements:
            conn.execute(text(sql))


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


def test_events_from_before_the_log_keep_their_chain(client, smtp, run_jobs):
    """A deployment upgraded from the hash chain: its old events become the first leaves,
    and their chain is still checked."""
    previous = GENESIS_HASH
    with session_scope() as session:
        for seq, action in enumerate(("requested", "confirmed", "withdrawn"), start=1):
            event = ConsentEvent(
                seq=seq,
                subscriber_key="old-person",
                scope=ConsentScope.topic,
                action=ConsentAction(action),
                source=ConsentSource.form,
                occurred_at=datetime(2026, 1, seq, tzinfo=UTC),
                prev_hash=previous,
            )
            event.hash = previous = event_hash(event)
            session.add(event)
    _some_history(client, smtp, run_jobs)
    CliRunner().invoke(cli, ["consent", "sequence", "--full"])
    assert _logged(0).seq == 1  # the old events lead the log, in chain order
    assert _verify().exit_code == 0
    # A receipt issued then (signed with the Club's secret key, quoting seq and hash)
    # still verifies online.
    legacy = {
        "version": "KI-CR-v1.1.0",
        "piiPrincipalId": "old-person",
        "services": [{"purposes": [{"ledgerEvent": {"seq": 2, "hash": _logged(1).hash}}]}],
    }
    legacy["signature"] = signing.sign(
        signing.Purpose.receipt, {"k": "receipt", "d": receipts._canonical_digest(legacy)}
    )
    verdict = client.post("/api/v1/receipts/verify", json=legacy).json()
    assert verdict == {"genuine": True, "reason": "genuine and unaltered"}
    _edit(f"UPDATE consent_event SET hash = '{'0' * 64}' WHERE seq = 2")
    result = _verify()
    assert result.exit_code == 1 and "(seq 2)" in result.output


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
    """The app's role has no right to change the past at all; even the owner's role is
    stopped by the append-only triggers until it lifts them."""
    _some_history(client, smtp, run_jobs)
    edits = (
        "UPDATE consent_event SET action = 'withdrawn' WHERE id = 1",
        "DELETE FROM consent_event WHERE id = 1",
        "UPDATE consent_text SET body = 'something else'",
        "DELETE FROM consent_log_entry WHERE log_index = 1",
        "UPDATE consent_log_node SET hash = hash WHERE level = 0",
        "DELETE FROM consent_checkpoint",
    )
    for sql in edits:
        with pytest.raises(DBAPIError, match="permission denied"), get_engine().begin() as conn:
            conn.execute(text(sql))
        with pytest.raises(DBAPIError, match="append-only"), owner_engine().begin() as conn:
            conn.execute(text(sql))
    for table in LEDGER_TABLES + ("consent_text",):
        with pytest.raises(DBAPIError, match="permission denied"), get_engine().begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    with pytest.raises(DBAPIError, match="must be owner"), get_engine().begin() as conn:
        conn.execute(text("ALTER TABLE consent_event DISABLE TRIGGER consent_event_append_only"))
    assert _verify().exit_code == 0


@pytest.mark.skipif(ON_POSTGRES, reason="the PostgreSQL guards are tested above")
def test_sqlite_refuses_to_edit_or_delete_the_ledger(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    for sql in (
        "UPDATE consent_event SET action = 'withdrawn' WHERE id = 1",
        "DELETE FROM consent_event WHERE id = 1",
        "UPDATE consent_text SET body = 'something else'",
        "DELETE FROM consent_log_node",
        "DELETE FROM consent_checkpoint",
    ):
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as conn:
            conn.execute(text(sql))
    assert _verify().exit_code == 0


@pytest.mark.postgres
def test_concurrent_appends_do_not_fork_the_log(client, smtp, run_jobs):
    from concurrent.futures import ThreadPoolExecutor

    make_topics()

    def sign_up(i: int) -> int:
        return client.post(
            "/api/v1/subscribe", json={"email": f"c{i}@example.org", "topics": ["food"]}
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(sign_up, range(16))) == {202}
    run_jobs()  # the requests' jobs record the events
    _sequence()
    result = _verify()
    assert result.exit_code == 0 and "16 events" in result.output, result.output
