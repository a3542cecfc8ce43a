"""The sequencer's full scan: events its window passed over, found without a full read.

A regular run looks only at events recorded since shortly before its last checkpoint
(`scan_from`, through the index on occurred_at). An event whose inserting transaction
stayed open longer than that horizon commits behind the window; a sweep
(app.consent.log) looks for such events every few minutes with an anti-join of the
ledger against the log.

That anti-join reads only the ids from a floor up: every event below the floor is in
the log, and no transaction that could still commit one below it is running. On
PostgreSQL each scan marks the highest id committed so far and the next transaction id
to be handed out; once every transaction older than a later mark has ended (the
snapshot's xmin has passed that mark's xmax), nothing can commit at or below the
earlier mark any more, and the floor moves up to it after one last look. The later
mark covers an INSERT that had drawn its id but not yet its transaction id when the
earlier mark was taken. SQLite has a single writer and no floor: its ledgers are small.

The floor is only a saving: kept in Redis (or this process, when embedded), it starts
again from 0 if lost, and the scan is then a whole one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlmodel import Session, col, func, select

from app import jobs
from app.config import get_settings
from app.consent.models import ConsentEvent, ConsentLogEntry

# How often the sweep runs a full scan, cluster-wide.
FULL_SCAN_EVERY_SECONDS = 300.0
_MARKS_KEPT = 3


@dataclass
class ScanState:
    floor: int = 0  # every event with a lower id is in the log, for good
    marks: list[tuple[int, int]] = field(default_factory=list)  # (last event id, xmax)


_local_state = ScanState()
_local_next_scan = 0.0


def _key(what: str) -> str:
    return f"{get_settings().redis_namespace}:app:consent-log-{what}"


def load_state() -> ScanState:
    client = jobs.redis_client()
    if client is None:
        return ScanState(_local_state.floor, list(_local_state.marks))
    raw = client.get(_key("scan"))
    if not raw:
        return ScanState()
    data = json.loads(raw)
    return ScanState(int(data["floor"]), [(int(a), int(b)) for a, b in data["marks"]])


def _save_state(state: ScanState) -> None:
    global _local_state
    client = jobs.redis_client()
    if client is None:
        _local_state = state
        return
    client.set(_key("scan"), json.dumps({"floor": state.floor, "marks": state.marks}))


def forget() -> None:
    """Tests start each case with no floor and a full scan due."""
    global _local_state, _local_next_scan
    _local_state = ScanState()
    _local_next_scan = 0.0


def due() -> bool:
    """True at most once per FULL_SCAN_EVERY_SECONDS across the cluster."""
    global _local_next_scan
    client = jobs.redis_client()
    if client is not None:
        return bool(
            client.set(_key("full-scan"), "1", nx=True, px=int(FULL_SCAN_EVERY_SECONDS * 1000))
        )
    now = time.monotonic()
    if now < _local_next_scan:
        return False
    _local_next_scan = now + FULL_SCAN_EVERY_SECONDS
    return True


def missing_ids(session: Session, limit: int, *, up_to: int | None = None) -> list[int]:
    """Ids of committed events not in the log, lowest first, from the floor up: an
    anti-join that reads ids only (both sides are indexes)."""
    floor = load_state().floor
    # The floor on both sides: PostgreSQL then merges two index ranges (EXPLAIN: Merge
    # Anti Join of two Index Only Scans) instead of hashing the whole log.
    query = (
        select(ConsentEvent.id)
        .outerjoin(
            ConsentLogEntry,
            (col(ConsentLogEntry.event_id) == col(ConsentEvent.id))
            & (col(ConsentLogEntry.event_id) >= floor),
        )
        .where(col(ConsentLogEntry.event_id).is_(None), col(ConsentEvent.id) >= floor)
    )
    if up_to is not None:
        query = query.where(col(ConsentEvent.id) <= up_to)
    return list(session.exec(query.order_by(col(ConsentEvent.id)).limit(limit)).all())


def advance_floor(session: Session) -> int:
    """After a full scan: take a mark, and raise the floor to the newest mark that no
    running transaction can still write below. Returns the floor."""
    state = load_state()
    if session.get_bind().dialect.name != "postgresql":
        return state.floor
    xmin = session.execute(text("SELECT txid_snapshot_xmin(txid_current_snapshot())")).scalar()
    settled = None
    for earlier, later in zip(state.marks, state.marks[1:], strict=False):
        if later[1] <= xmin:  # every transaction that held an id at `later` has ended
            settled = earlier
    if settled is not None:
        state.marks = [m for m in state.marks if m[0] > settled[0]]
        if settled[0] >= state.floor and not missing_ids(session, 1, up_to=settled[0]):
            state.floor = settled[0] + 1
    # The mark: the highest id committed now (every lower one was drawn before it),
    # then the next transaction id (every transaction that has one is older).
    last = session.exec(select(func.max(ConsentEvent.id))).one() or 0
    xmax = session.execute(text("SELECT txid_snapshot_xmax(txid_current_snapshot())")).scalar()
    state.marks = [*state.marks, (last, int(xmax))][-_MARKS_KEPT:]
    _save_state(state)
    return state.floor
