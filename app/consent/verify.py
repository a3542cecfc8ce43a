"""Checking the ledger: the hash chain is whole, and every active consent was confirmed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.consent.models import GENESIS_HASH, ConsentAction, ConsentEvent, ConsentScope
from app.consent.service import event_hash
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus


@dataclass(frozen=True)
class Problem:
    event_id: int | None
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"event {self.event_id} (seq {self.seq})" if self.event_id else "ledger"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    events: int
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session, *, batch: int = 5000) -> Verdict:
    """Walk every event in order (keyset-paged); stop at the first one that does not fit."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    while True:
        events = session.exec(
            select(ConsentEvent)
            .where(ConsentEvent.seq >= expected_seq)
            .order_by(col(ConsentEvent.seq))
            .limit(batch)
        ).all()
        if not events:
            return Verdict(count, None)
        for event in events:
            if event.seq != expected_seq:
                return Verdict(
                    count,
                    Problem(event.id, event.seq, f"expected seq {expected_seq}: events missing"),
                )
            if event.prev_hash != prev_hash:
                return Verdict(
                    count, Problem(event.id, event.seq, "prev_hash does not match the event before")
                )
            if event_hash(event) != event.hash:
                return Verdict(
                    count, Problem(event.id, event.seq, "its contents were changed after recording")
                )
            expected_seq, prev_hash, count = expected_seq + 1, event.hash, count + 1


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
                    .order_by(col(ConsentEvent.seq))
                ).all()
            )
            if not _confirmed_after_last_request(events):
                last = events[-1] if events else None
                return Problem(
                    last.id if last else None,
                    last.seq if last else None,
                    f"subscription {subscription.id} is active ({scope}) without a "
                    "confirmation after its last request",
                )
    return None


def verify(session: Session) -> Verdict:
    verdict = verify_chain(session)
    if not verdict.ok:
        return verdict
    return Verdict(verdict.events, verify_active_consents(session))
