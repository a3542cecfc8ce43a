"""A batch's claim on its Delivery rows: taken with a fresh token, renewed as the batch
goes, and required by every mark the batch makes.

Exactly once: a claim lapses when its lease passes without renewal (its worker died or
stalled), and another job may then take the rows with its own token. From then on the
first batch's renewals and marks match no row, so it learns it lost the claim and stops
before sending another message; nothing it does afterwards can touch the rows.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, text, update
from sqlmodel import Session, col

from app.db import get_engine, utcnow
from app.sending import lifecycle
from app.sending.models import Delivery, DeliveryStatus


@dataclass
class Claim:
    token: str
    ids: list[int]
    owned: set[int] = field(default_factory=set)
    lease_seconds: float = 600.0
    renewed_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.owned = set(self.ids)

    def holds(self, delivery_id: int) -> bool:
        """Renew the lease when a third of it has passed; True while this claim still
        holds the row (another job may have taken it after a lapse)."""
        if time.monotonic() - self.renewed_at >= self.lease_seconds / 3:
            self.renew()
        return delivery_id in self.owned

    def renew(self) -> None:
        with get_engine().begin() as connection:
            result = connection.execute(
                update(Delivery)
                .where(
                    col(Delivery.claim_token) == self.token,
                    col(Delivery.status) == DeliveryStatus.sending,
                )
                .values(claimed_at=utcnow())
                .returning(col(Delivery.id))
            )
            self.owned = {row[0] for row in result}
        self.renewed_at = time.monotonic()


def claim(session: Session, issue_id: int, batch: int) -> Claim:
    """Take the batch's queued rows, and rows whose claim lapsed, under a new token.
    Claiming is not an attempt: attempts count tries that failed."""
    now = utcnow()
    token = secrets.token_hex(16)
    result = session.execute(
        update(Delivery)
        .where(
            col(Delivery.issue_id) == issue_id,
            col(Delivery.batch) == batch,
            or_(
                col(Delivery.status) == DeliveryStatus.queued,
                (col(Delivery.status) == DeliveryStatus.sending)
                & (col(Delivery.claimed_at) < now - lifecycle.claim_lease()),
            ),
        )
        .values(status=DeliveryStatus.sending, claimed_at=now, claim_token=token)
        .returning(col(Delivery.id))
    )
    return Claim(
        token=token,
        ids=sorted(row[0] for row in result),
        lease_seconds=lifecycle.claim_lease().total_seconds(),
    )


def set_status(claim: Claim, ids: Iterable[int], status: DeliveryStatus, **values: object) -> None:
    """Mark rows this claim still holds, in a transaction of their own. On PostgreSQL the
    commit does not wait for the disk flush: a database crash may forget the last few
    marks (and re-send those messages), but a worker crash never does."""
    ids = list(ids)
    if not ids:
        return
    if status != DeliveryStatus.sending:
        values["claim_token"] = None
    with get_engine().begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
        connection.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(ids), col(Delivery.claim_token) == claim.token)
            .values(status=status, **values)
        )


def release(claim: Claim, ids: Iterable[int], **values: object) -> None:
    """Give rows back to the queue unsent (a stop, a pause, a busy domain)."""
    set_status(claim, ids, DeliveryStatus.queued, **values)


# One statement, compiled once: the mark made after each accepted message.
MARK_SENT = (
    update(Delivery)
    .where(
        col(Delivery.id) == bindparam("delivery_id"),
        col(Delivery.claim_token) == bindparam("token"),
    )
    .values(status=DeliveryStatus.sent, sent_at=bindparam("at"), error=None, claim_token=None)
)


@contextlib.contextmanager
def sent_marker(claim: Claim) -> Iterator[Callable[[int], bool]]:
    """`mark(delivery_id)` for the batch: True when the row was still this claim's. On
    PostgreSQL: one connection held for the batch, autocommit, without waiting for the
    disk flush (as `set_status`); the setting is reset before the connection goes back
    to the pool. SQLite (the embedded default, one writer) keeps a short transaction
    per mark."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":

        def mark_one(delivery_id: int) -> bool:
            with engine.begin() as connection:
                result = connection.execute(
                    MARK_SENT, {"delivery_id": delivery_id, "token": claim.token, "at": utcnow()}
                )
                return bool(result.rowcount)

        yield mark_one
        return
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("SET synchronous_commit TO OFF")

        def mark(delivery_id: int) -> bool:
            result = autocommit.execute(
                MARK_SENT, {"delivery_id": delivery_id, "token": claim.token, "at": utcnow()}
            )
            return bool(result.rowcount)

        try:
            yield mark
        finally:
            with contextlib.suppress(Exception):
                autocommit.exec_driver_sql("RESET synchronous_commit")
