"""The consent log seen from outside: sequenced events, signed checkpoints and proofs that
a stranger verifies with the public key alone (app.consent.logverify, over HTTP)."""

from __future__ import annotations

import base64
import json

from app.consent.logverify import (
    NoteVerifier,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from app.consent.merkle import MemoryTree
from app.db import session_scope
from tests.consent.test_ledger import _some_history


def _integrate():
    from app.consent import log as consent_log

    with session_scope() as session:
        return consent_log.integrate(session)


def _checkpoint(client, verifier, size=None):
    url = "/consent-log/checkpoint" + (f"/{size}" if size is not None else "")
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return open_checkpoint(response.text, verifier)


def test_every_event_is_provably_in_the_signed_log(client, smtp, run_jobs):
    _some_history(client, smtp, run_jobs)
    first = _integrate()
    assert first.integrated == first.size == 17
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
    _integrate()
    verifier = NoteVerifier.parse(client.get("/consent-log/key").text)
    old = _checkpoint(client, verifier)
    client.post("/api/v1/subscribe", json={"email": "d@example.org", "topics": ["housing"]})
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
