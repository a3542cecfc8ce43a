"""Checking the ledger: the log matches its signed checkpoint, the old chain is whole, and
every active consent was confirmed after its last request.

What this cannot see is an operator who rewrites the events, the tree and the checkpoints
together (they hold the signing key): that is what `coopclub consent audit`, run by
someone else with a checkpoint they saw earlier, catches.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from app.consent import log as consent_log
from app.consent.logverify import (
    LogVerificationError,
    empty_root,
    leaf_hash,
    node_hash,
    open_checkpoint,
)
from app.consent.models import (
    GENESIS_HASH,
    ConsentAction,
    ConsentEvent,
    ConsentLogEntry,
    ConsentLogNode,
    ConsentScope,
)
from app.consent.service import event_hash
from app.db import utcnow
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus


@dataclass(frozen=True)
class Problem:
    event_id: int | None
    where: str | None  # "seq 3" (old chain) or "log index 7"
    message: str

    def __str__(self) -> str:
        where = f"event {self.event_id} ({self.where})" if self.event_id else "ledger"
        if self.event_id is None and self.where:
            where = self.where
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    events: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, *, batch: int = 5000) -> Verdict:
    """The old hash chain (events recorded before the log): every link still holds."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    while True:
        events = session.exec(
            select(ConsentEvent)
            .where(col(ConsentEvent.seq) >= expected_seq)
            .order_by(col(ConsentEvent.seq))
            .limit(batch)
        ).all()
        if not events:
            return Verdict(count, None)
        for event in events:
            where = f"seq {event.seq}"
            if event.seq != expected_seq:
                message = f"expected seq {expected_seq}: events missing"
                return Verdict(count, Problem(event.id, where, message))
            if event.prev_hash != prev_hash:
                message = "prev_hash does not match the event before"
                return Verdict(count, Problem(event.id, where, message))
            if event_hash(event) != event.hash:
                message = "its contents were changed after recording"
                return Verdict(count, Problem(event.id, where, message))
            expected_seq, prev_hash, count = expected_seq + 1, event.hash, count + 1


def verify_log(session: Session, *, batch: int = 5000) -> Verdict:
    """Recompute the Merkle tree from the events and check it against the signed
    checkpoint: an edited, removed or reordered event, or a rewritten tree, shows."""
    latest = consent_log.latest_checkpoint(session)
    if latest is None:
        return Verdict(0, None)
    try:
        signed = open_checkpoint(latest.note, consent_log.log_verifier(), consent_log.log_origin())
    except LogVerificationError as exc:
        return Verdict(0, Problem(None, f"checkpoint {latest.size}", str(exc)))
    if (signed.size, signed.root_hash) != (latest.size, latest.root_hash):
        return Verdict(0, Problem(None, f"checkpoint {latest.size}", "its note says otherwise"))
    edge: list[tuple[int, bytes]] = []  # the complete subtrees on the right edge
    index = 0
    while index < latest.size:
        rows = session.exec(
            select(ConsentLogEntry.log_index, ConsentEvent, ConsentLogNode.hash)
            .join(ConsentEvent, col(ConsentEvent.id) == col(ConsentLogEntry.event_id))
            .join(
                ConsentLogNode,
                (col(ConsentLogNode.level) == 0)
                & (col(ConsentLogNode.position) == col(ConsentLogEntry.log_index)),
            )
            .where(col(ConsentLogEntry.log_index) >= index)
            .order_by(col(ConsentLogEntry.log_index))
            .limit(min(batch, latest.size - index))
        ).all()
        if not rows:
            break
        for log_index, event, stored in rows:
            where = f"log index {log_index}"
            if log_index != index:
                return Verdict(index, Problem(None, f"log index {index}", "missing from the log"))
            digest = leaf_hash(consent_log.leaf_bytes(event))
            if digest != stored:
                message = "its contents were changed after it was logged"
                return Verdict(index, Problem(event.id, where, message))
            edge.append((0, digest))
            while len(edge) > 1 and edge[-1][0] == edge[-2][0]:
                (level, right), (_, left) = edge.pop(), edge.pop()
                edge.append((level + 1, node_hash(left, right)))
            index += 1
    if index != latest.size:
        return Verdict(index, Problem(None, f"log index {index}", "missing from the log"))
    root = edge[-1][1] if edge else empty_root()
    for _, left in reversed(edge[:-1]):
        root = node_hash(left, root)
    if root != latest.root_hash:
        message = "the events no longer hash to the signed root"
        return Verdict(index, Problem(None, f"checkpoint {latest.size}", message))
    return Verdict(index, None)


def unsequenced(session: Session) -> int:
    """Events older than the sequencer's horizon that are still not in the log."""
    horizon = utcnow() - consent_log.SCAN_HORIZON
    return session.exec(
        select(func.count())
        .select_from(ConsentEvent)
        .outerjoin(ConsentLogEntry, col(ConsentLogEntry.event_id) == col(ConsentEvent.id))
        .where(col(ConsentLogEntry.event_id).is_(None), col(ConsentEvent.occurred_at) < horizon)
    ).one()


def _confirmed_after_last_request(events: list[ConsentEvent]) -> bool:
    last_request = max(
        (i for i, e in enumerate(events) if e.action == ConsentAction.requested), default=-1
    )
    return last_request >= 0 and any(
        e.action == ConsentAction.confirmed for e in events[last_request + 1 :]
    )


def verify_active_consents(session: Session) -> Problem | None:
    """Every active subscription (and sharing consent) has a confirmation after its last
    request in the ledger."""
    rows = session.exec(
        select(Subscription, Subscriber.key)
        .join(Subscriber, col(Subscriber.id) == Subscription.subscriber_id)
        .where(
            (col(Subscription.status) == SubscriptionStatus.active)
            | (col(Subscription.sharing) == SubscriptionStatus.active)
        )
        .order_by(col(Subscription.id))
    ).all()
    for subscription, key in rows:
        checks = []
        if subscription.status == SubscriptionStatus.active:
            checks.append(ConsentScope.topic)
        if subscription.sharing == SubscriptionStatus.active:
            checks.append(ConsentScope.sharing)
        for scope in checks:
            events = list(
                session.exec(
                    select(ConsentEvent)
                    .where(
                        ConsentEvent.subscriber_key == key,
                        ConsentEvent.scope == scope,
                        ConsentEvent.topic_id == subscription.topic_id,
                    )
                    .order_by(col(ConsentEvent.id))
                ).all()
            )
            if not _confirmed_after_last_request(events):
                last = events[-1] if events else None
                return Problem(
                    last.id if last else None,
                    f"seq {last.seq}" if last and last.seq else None,
                    f"subscription {subscription.id} is active ({scope}) without a "
                    "confirmation after its last request",
                )
    return None


def verify(session: Session) -> Verdict:
    """The log against its signed checkpoint, the old chain, nothing left unsequenced,
    and every active consent confirmed after its last request."""
    logged = verify_log(session)
    if not logged.ok:
        return logged
    chain = verify_chain(session)
    if not chain.ok:
        return chain
    left_behind = unsequenced(session)
    if left_behind:
        message = f"{left_behind} events were never sequenced (run `coopclub consent sequence`)"
        return Verdict(logged.events, Problem(None, "consent log", message))
    return Verdict(logged.events, verify_active_consents(session))
