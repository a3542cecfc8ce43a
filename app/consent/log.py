"""The consent ledger as a transparency log: the sequencer, its storage and its proofs.

`record_consent` only inserts an event in the caller's transaction: no lock, no read of
any head. The sequencer (`integrate`, run by a Dramatiq actor on a short loop, one at a
time cluster-wide) takes committed events that have no place in the log yet, in id
order, gives each the next leaf index, stores the hashes of the subtrees they complete
(app.consent.merkle) and signs a checkpoint of the new size. Proofs and checkpoints are
served from those rows; every checkpoint is kept, so anyone holding an old one can ask
for a consistency proof to the newest.

One at a time: on PostgreSQL the run holds a transaction-level advisory lock and a run
that cannot take it does nothing; SQLite has one writer anyway. The primary keys of
entries, nodes and checkpoints refuse a second writer even if that were bypassed, and a
run killed half-way rolls back whole: nothing is half-integrated and nothing forks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import insert, text
from sqlmodel import Session, col, func, select

from app.config import get_settings
from app.consent import logscan
from app.consent.logverify import Checkpoint, NoteVerifier
from app.consent.merkle import (
    NoteSigner,
    ProofRequestError,
    consistency_proof,
    hashes_to_store,
    inclusion_proof,
    root_hash,
)
from app.consent.models import ConsentCheckpoint, ConsentEvent, ConsentLogEntry, ConsentLogNode
from app.consent.service import event_fields
from app.db import utcnow
from app.jobs import register_sweep

log = logging.getLogger(__name__)

# Any fixed 64-bit number: the key of the sequencer's PostgreSQL advisory lock.
SEQUENCER_LOCK_KEY = 0x436F6F70_53657175  # "CoopSequ"
# An event whose transaction stayed open longer than this after it was inserted could
# be passed over by the regular runs; the full scan (app.consent.logscan) finds it.
SCAN_HORIZON = timedelta(minutes=10)
LEAVES_PAGE = 1000


def leaf_bytes(event: ConsentEvent) -> bytes:
    """The log's leaf for an event: canonical JSON of its id and every field."""
    fields = {"event_id": event.id, **event_fields(event)}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


# --- keys --------------------------------------------------------------------------------


def log_origin() -> str:
    """The log's name in every checkpoint: its key's name, fixed when the key was made
    (from COOPCLUB_LOG_ORIGIN, or BASE_URL's host and /consent-log)."""
    return log_signer().name


def configured_origin() -> str:
    settings = get_settings()
    return settings.log_origin or f"{urlsplit(settings.base_url).netloc}/consent-log"


def _key_path() -> Path:
    settings = get_settings()
    return settings.log_signing_key_path or settings.var_dir / "consent_log_key"


@lru_cache(maxsize=4)
def _load_signer(path: Path, wanted_origin: str | None) -> NoteSigner:
    if not path.exists():
        if get_settings().is_production:
            raise RuntimeError(f"COOPCLUB_LOG_SIGNING_KEY_PATH: {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = NoteSigner.generate(wanted_origin or configured_origin())
        path.write_text(signer.encode() + "\n")
        path.chmod(0o600)
        return signer
    signer = NoteSigner.parse(path.read_text())
    if wanted_origin is not None and signer.name != wanted_origin:
        raise RuntimeError(
            f"COOPCLUB_LOG_ORIGIN is {wanted_origin!r} but the log key in {path} is for "
            f"{signer.name!r}: a log keeps its name"
        )
    return signer


def log_signer() -> NoteSigner:
    """The Ed25519 key that signs checkpoints and receipts (generated once if embedded)."""
    return _load_signer(_key_path(), get_settings().log_origin)


def log_verifier() -> NoteVerifier:
    return log_signer().verifier


def generate_key_file(path: Path, origin: str) -> NoteVerifier:
    """Write a new signer key for `origin` to `path` (never over an existing file)."""
    signer = NoteSigner.generate(origin)
    with path.open("x") as out:
        out.write(signer.encode() + "\n")
    path.chmod(0o600)
    return signer.verifier


# --- storage ---------------------------------------------------------------------------


class NodeReader:
    """read(level, position) from the database, remembering what it read or wrote."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, position: int) -> bytes:
        key = (level, position)
        if key not in self.known:
            node = self.session.get(ConsentLogNode, key)
            if node is None:
                raise LookupError(f"the log has no node at level {level}, position {position}")
            self.known[key] = node.hash
        return self.known[key]


def tree_size(session: Session) -> int:
    last = session.exec(select(func.max(ConsentLogEntry.log_index))).one()
    return 0 if last is None else last + 1


def latest_checkpoint(session: Session) -> ConsentCheckpoint | None:
    return session.exec(
        select(ConsentCheckpoint).order_by(col(ConsentCheckpoint.size).desc()).limit(1)
    ).first()


def checkpoint_at(session: Session, size: int) -> ConsentCheckpoint | None:
    return session.get(ConsentCheckpoint, size)


def oldest_unsequenced(session: Session) -> datetime | None:
    """When the oldest committed event still waiting for its place in the log was
    recorded (None: all are in). Looks as far back as the sequencer does, through the
    index on occurred_at, and at what the full scan would find (from its floor up), so
    that an event the sequencer's window passed over shows as lag until it is in."""
    previous = latest_checkpoint(session)
    since = previous.scan_from if previous is not None else None
    query = (
        select(func.min(ConsentEvent.occurred_at))
        .outerjoin(ConsentLogEntry, col(ConsentLogEntry.event_id) == col(ConsentEvent.id))
        .where(col(ConsentLogEntry.event_id).is_(None))
    )
    if since is not None:
        query = query.where(col(ConsentEvent.occurred_at) >= since)
    recent = session.exec(query).one()
    passed_over = logscan.missing_ids(session, 100)
    if not passed_over:
        return recent
    older = session.exec(
        select(func.min(ConsentEvent.occurred_at)).where(col(ConsentEvent.id).in_(passed_over))
    ).one()
    return min(t for t in (recent, older) if t is not None)


# --- the sequencer -----------------------------------------------------------------------


@dataclass(frozen=True)
class Integration:
    integrated: int
    size: int
    more: bool  # the batch was full: run again at once


def _take_lock(session: Session, wait: bool) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK_KEY})
        return True
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK_KEY}
        ).scalar()
    )


def _unsequenced(
    session: Session, since: datetime | None, limit: int, *, full_scan: bool
) -> list[ConsentEvent]:
    if full_scan:  # ids first, from the index alone; then only the missing rows
        ids = logscan.missing_ids(session, limit)
        if not ids:
            return []
        found = select(ConsentEvent).where(col(ConsentEvent.id).in_(ids))
        return list(session.exec(found.order_by(col(ConsentEvent.id))).all())
    query = (
        select(ConsentEvent)
        .outerjoin(ConsentLogEntry, col(ConsentLogEntry.event_id) == col(ConsentEvent.id))
        .where(col(ConsentLogEntry.event_id).is_(None))
    )
    if since is not None:
        query = query.where(col(ConsentEvent.occurred_at) >= since)
    return list(session.exec(query.order_by(col(ConsentEvent.id)).limit(limit)).all())


def integrate(
    session: Session, *, batch: int = 2000, full_scan: bool = False, wait: bool = False
) -> Integration:
    """Sequence up to `batch` committed events and sign a checkpoint; the caller commits.

    While another run holds the sequencer's lock this one does nothing (the workers'
    ticks), or with `wait` waits for that run to commit and then runs (a command, or a
    test that needs everything committed so far in the log)."""
    if not _take_lock(session, wait):
        return Integration(0, 0, False)
    started = utcnow()
    previous = latest_checkpoint(session)
    since = None if full_scan or previous is None else previous.scan_from
    events = _unsequenced(session, since, batch, full_scan=since is None)
    size = tree_size(session)
    if not events:
        if previous is None or previous.size != size:  # first run, or a lost checkpoint
            _sign_checkpoint(session, size, NodeReader(session), scan_from=since)
        return Integration(0, size, False)
    read = NodeReader(session)
    nodes: list[dict[str, object]] = []
    entries: list[dict[str, object]] = []
    for event in events:
        for level, position, digest in hashes_to_store(size, leaf_bytes(event), read):
            read.known[(level, position)] = digest
            nodes.append({"level": level, "position": position, "hash": digest})
        entries.append({"log_index": size, "event_id": event.id, "integrated_at": started})
        size += 1
    session.execute(insert(ConsentLogNode), nodes)
    session.execute(insert(ConsentLogEntry), entries)
    more = len(events) == batch
    # Drained: the next run need only look at events inserted since shortly before now.
    scan_from = since if more else started - SCAN_HORIZON
    _sign_checkpoint(session, size, read, scan_from=scan_from)
    return Integration(len(events), size, more)


def _sign_checkpoint(
    session: Session, size: int, read: NodeReader, *, scan_from: datetime | None
) -> ConsentCheckpoint:
    root = root_hash(size, read)
    note = log_signer().sign_checkpoint(Checkpoint(log_origin(), size, root))
    checkpoint = ConsentCheckpoint(size=size, root_hash=root, note=note, scan_from=scan_from)
    session.add(checkpoint)
    session.flush()
    return checkpoint


@register_sweep("consent-log-full-scan")
def full_scan(session: Session) -> None:
    """Every few minutes: sequence the events the regular runs passed over (a
    transaction open longer than SCAN_HORIZON), then move the full scan's floor up."""
    if logscan.due():
        scan_all(session)


def scan_all(session: Session) -> int:
    """One full scan, then a mark for the floor; returns how many events it sequenced.
    Cheap when nothing is missing: one anti-join from the floor, and no sequencer run."""
    integrated = 0
    if logscan.missing_ids(session, 1):
        integrated = integrate(session, full_scan=True, wait=True).integrated
        log.info("consent log: the full scan sequenced %d events", integrated)
    logscan.advance_floor(session)
    return integrated


# --- proofs ------------------------------------------------------------------------------


class UnknownSize(LookupError):
    """No checkpoint was ever signed at that size."""


def _checkpointed(session: Session, size: int) -> ConsentCheckpoint:
    found = checkpoint_at(session, size)
    if found is None:
        raise UnknownSize(f"the log never had a checkpoint of size {size}")
    return found


def prove_inclusion(session: Session, index: int, size: int) -> list[bytes]:
    _checkpointed(session, size)
    if not 0 <= index < size:
        raise ProofRequestError(f"leaf {index} is not in a tree of size {size}")
    return inclusion_proof(index, size, NodeReader(session))


def prove_consistency(session: Session, old: int, size: int) -> list[bytes]:
    if not 0 <= old <= size:
        raise ProofRequestError(f"no tree of size {size} extends one of size {old}")
    _checkpointed(session, size)
    return consistency_proof(old, size, NodeReader(session))


def leaves(session: Session, start: int, end: int) -> list[bytes]:
    """Leaf bytes [start, end), at most LEAVES_PAGE of them, for monitors."""
    if start < 0 or end <= start:
        raise ProofRequestError("ask for leaves with 0 <= start < end")
    end = min(end, start + LEAVES_PAGE, tree_size(session))
    rows = session.exec(
        select(ConsentEvent)
        .join(ConsentLogEntry, col(ConsentLogEntry.event_id) == col(ConsentEvent.id))
        .where(col(ConsentLogEntry.log_index) >= start, col(ConsentLogEntry.log_index) < end)
        .order_by(col(ConsentLogEntry.log_index))
    ).all()
    return [leaf_bytes(event) for event in rows]


def log_positions(session: Session, event_ids: list[int]) -> dict[int, int]:
    """event id -> leaf index, for the events already sequenced."""
    rows = session.exec(
        select(ConsentLogEntry.event_id, ConsentLogEntry.log_index).where(
            col(ConsentLogEntry.event_id).in_(event_ids)
        )
    ).all()
    return {event_id: index for event_id, index in rows}
