"""The consent log seen from outside: sequenced events, signed checkpoints and proofs that
a stranger verifies with the public key alone (app.consent.logverify, over HTTP)."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner
from sqlmodel import select

from app.cli import cli
from app.consent.logverify import (
    LogVerificationError,
    NoteVerifier,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from app.consent.merkle import MemoryTree, NoteSigner
from app.consent.models import ConsentEvent, ConsentLogEntry
from app.db import session_scope
from tests.consent.test_ledger import _edit, _some_history
from tests.subscribers.helpers import confirm_from_mail, make_topics
from tests.subscribers.test_signup import link_in_page


def _integrate():
    from app.consent import log as consent_log

    with session_scope() as session:
        return consent_log.integrate(session, wait=True)


def _checkpoint(client, verifier, size=None):
    url = "/consent-log/checkpoint" + (f"/{size}" if size is not None else "")
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return open_checkpoint(response.text, verifier)


def test_every_event_is_provably_in_the_signed_log(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)  # ends with `coopclub consent sequence`
    assert _integrate().size == 17
    verifier = NoteVerifier.parse(client.get("/consent-log/key").text)
    checkpoint = _checkpoint(client, verifier)
    assert checkpoint.size == 17 and checkpoint.origin == "testserver/consent-log"

    leaves = client.get("/consent-log/leaves", params={"start": 0, "end": 17}).json()
    assert leaves["start"] == 0 and len(leaves["leaves"]) == 17
    raw = [base64.b64decode(leaf) for leaf in leaves["leaves"]]
    assert MemoryTree(raw).root() == checkpoint.root_hash  # a monitor rebuilds the same tree
    entries = [json.loads(leaf) for leaf in raw]
    assert {e["action"] for e in entries} == {"requested", "confirmed"}
    assert all("@" not in leaf.decode() for leaf in raw)  # no addresses in the public log
    for index, leaf in enumerate(raw):
        proof = client.get("/consent-log/proof/inclusion", params={"index": index, "size": 17})
        assert proof.status_code == 200
        hashes = [base64.b64decode(h) for h in proof.json()["proof"]]
        verify_inclusion(index, 17, leaf_hash(leaf), hashes, checkpoint.root_hash)


def test_a_grown_log_proves_it_kept_its_past(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    verifier = NoteVerifier.parse(client.get("/consent-log/key").text)
    old = _checkpoint(client, verifier)
    client.post("/api/v1/subscribe", json={"email": "d@example.org", "topics": ["housing"]})
    run_jobs()
    grown = _integrate()
    assert grown.integrated == 1 and grown.size == old.size + 1
    new = _checkpoint(client, verifier)
    assert _checkpoint(client, verifier, old.size) == old  # every checkpoint is kept
    proof = client.get("/consent-log/proof/consistency", params={"old": old.size, "size": new.size})
    hashes = [base64.b64decode(h) for h in proof.json()["proof"]]
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash, hashes)
    assert _integrate().integrated == 0  # nothing is sequenced twice


def test_impossible_questions_get_clear_answers(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    size = _integrate().size
    assert client.get("/consent-log/checkpoint/5").status_code == 404
    too_far = client.get("/consent-log/proof/inclusion", params={"index": size, "size": size})
    assert too_far.status_code == 400 and "not in a tree" in too_far.json()["detail"]
    unknown = client.get("/consent-log/proof/inclusion", params={"index": 0, "size": 3})
    assert unknown.status_code == 404
    backwards = client.get("/consent-log/proof/consistency", params={"old": size, "size": 1})
    assert backwards.status_code == 400
    assert client.get("/consent-log/leaves", params={"start": 5, "end": 2}).status_code == 400


def test_a_receipt_verifies_offline_and_refuses_tampering(client, smtp, run_jobs, tmp_path):
    make_topics()
    client.post("/api/v1/subscribe", json={"email": "r@example.org", "topics": ["food"]})
    confirmed = confirm_from_mail(client, smtp, "r@example.org", run_jobs)
    run_jobs()  # the confirmation's sequencing job
    receipt = client.get(link_in_page(confirmed.text, "receipts")).json()
    key = tmp_path / "log.key"
    key.write_text(client.get("/consent-log/key").text)
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps(receipt))

    def offline(path, vkey=str(key)):
        return CliRunner().invoke(cli, ["consent", "verify-receipt", str(path), "--key", vkey])

    result = offline(good)
    assert result.exit_code == 0 and "receipt verified" in result.output, result.output
    assert "included in the signed checkpoint of size" in result.output

    def tampered(change) -> str:
        copy = json.loads(json.dumps(receipt))
        change(copy)
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(copy))
        outcome = offline(path)
        assert outcome.exit_code == 1
        return outcome.output

    def set_time(r):
        r["consentTimestamp"] = "2020-01-01T00:00:00.000000Z"

    def move_in_log(r):  # the receipt's signature covers its place in the log too
        r["services"][0]["purposes"][0]["log"]["index"] += 1

    assert "altered after it was signed" in tampered(set_time)
    assert "altered after it was signed" in tampered(move_in_log)
    stranger = NoteSigner.generate("testserver/consent-log").verifier.encode()
    assert "signed by another key" in offline(good, stranger).output
    # A checkpoint from another log, even well signed by its own key, is refused.
    note = receipt["services"][0]["purposes"][0]["log"]["checkpoint"]
    foreign = NoteSigner.generate("elsewhere.example/log").sign_note(note[: note.index("\n\n") + 1])
    with pytest.raises(LogVerificationError, match="no signature by"):
        open_checkpoint(foreign, NoteVerifier.parse(key.read_text()))
    verdict = client.post("/api/v1/receipts/verify", json=receipt).json()
    assert verdict["genuine"] is True and "included in the log at checkpoint" in verdict["reason"]


def test_an_edited_event_no_longer_matches_the_log(client, smtp, run_jobs):
    """The operator, as the schema's owner, lifts the append-only trigger and edits a
    sequenced event's content (a confirmation becomes a withdrawal). `consent verify`
    names it, and a monitor holding the checkpoint from before finds that the leaves the
    log now serves no longer hash to it, nor does the edited leaf's inclusion proof."""
    _some_history(client, smtp, run_jobs)
    verifier = NoteVerifier.parse(client.get("/consent-log/key").text)
    held = _checkpoint(client, verifier)  # what the monitor kept from its last look
    with session_scope() as session:
        index, event_id = session.exec(
            select(ConsentLogEntry.log_index, ConsentEvent.id)
            .join(ConsentEvent, ConsentLogEntry.event_id == ConsentEvent.id)
            .where(ConsentEvent.action == "confirmed")
            .order_by(ConsentLogEntry.log_index)
        ).first()
    _edit(f"UPDATE consent_event SET action = 'withdrawn' WHERE id = {event_id}")

    verdict = CliRunner().invoke(cli, ["consent", "verify"])
    assert verdict.exit_code == 1
    assert f"event {event_id} (log index {index})" in verdict.output
    assert "contents were changed after it was logged" in verdict.output

    # The monitor, offline but for the public API.
    page = client.get("/consent-log/leaves", params={"start": 0, "end": held.size}).json()
    raw = [base64.b64decode(leaf) for leaf in page["leaves"]]
    assert json.loads(raw[index])["action"] == "withdrawn"  # the edit shows
    assert MemoryTree(raw).root() != held.root_hash
    proof = client.get("/consent-log/proof/inclusion", params={"index": index, "size": held.size})
    hashes = [base64.b64decode(h) for h in proof.json()["proof"]]
    with pytest.raises(LogVerificationError):
        verify_inclusion(index, held.size, leaf_hash(raw[index]), hashes, held.root_hash)


def test_an_auditor_catches_the_operator_rewriting_history(
    client, smtp, run_jobs, live_server, tmp_path
):
    """The attack from issue 15: the operator (who owns the tables and holds the signing
    key) deletes a withdrawal, rebuilds the tree and re-signs; `consent verify` run by
    the operator passes, but a monitor holding an earlier checkpoint fails loudly."""
    _some_history(client, smtp, run_jobs)
    state = tmp_path / "monitor.json"

    def audit():
        args = ["consent", "audit", "--url", live_server.url, "--state", str(state)]
        return CliRunner().invoke(cli, args)

    first = audit()
    assert first.exit_code == 0 and "first look: size 17" in first.output, first.output
    with session_scope() as session:
        event = session.exec(
            select(ConsentEvent)
            .join(ConsentLogEntry, ConsentLogEntry.event_id == ConsentEvent.id)
            .where(ConsentLogEntry.log_index == 16)
        ).one()
    # Rewrite: drop the last event and its whole log, then let the sequencer rebuild
    # the tree from what is left and sign fresh checkpoints with the genuine key.
    _edit(
        "DELETE FROM consent_checkpoint",
        "DELETE FROM consent_log_node",
        "DELETE FROM consent_log_entry",
        f"DELETE FROM consent_event WHERE id = {event.id}",
    )
    client.post("/api/v1/subscribe", json={"email": "z@example.org", "topics": ["food"]})
    run_jobs()
    CliRunner().invoke(cli, ["consent", "sequence", "--full"])
    assert CliRunner().invoke(cli, ["consent", "verify"]).exit_code == 0  # fooled
    caught = audit()
    assert caught.exit_code == 1
    assert "rewritten" in caught.output or "does not lead" in caught.output, caught.output


def test_answers_about_a_signed_size_are_cached_and_refusals_are_not(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    size = _integrate().size
    immutable = "public, max-age=31536000, immutable"

    def cache(url, **params):
        response = client.get(url, params=params)
        return response.status_code, response.headers.get("cache-control")

    assert cache("/consent-log/proof/inclusion", index=3, size=size) == (200, immutable)
    assert cache("/consent-log/proof/consistency", old=5, size=size) == (200, immutable)
    assert cache("/consent-log/leaves", start=0, end=size) == (200, immutable)
    assert cache(f"/consent-log/checkpoint/{size}") == (200, immutable)
    # A page reaching past the end of the log grows with it: only briefly cached.
    assert cache("/consent-log/leaves", start=size - 2, end=size + 5) == (200, "public, max-age=2")
    assert cache("/consent-log/checkpoint") == (200, "public, max-age=2")
    # Refusals: a size not signed yet (404) may be signed a moment later; nothing keeps them.
    refusals = [
        cache("/consent-log/proof/inclusion", index=0, size=size + 1),
        cache("/consent-log/proof/consistency", old=1, size=size + 1),
        cache(f"/consent-log/checkpoint/{size + 1}"),
        cache("/consent-log/proof/inclusion", index=size, size=size),
        cache("/consent-log/leaves", start=5, end=2),
        cache("/consent-log/proof/inclusion", index=-1, size=size),
        cache("/consent-log/leaves", start="x", end=2),
    ]
    assert refusals == [(404, "no-store")] * 3 + [(400, "no-store")] * 2 + [(422, "no-store")] * 2
