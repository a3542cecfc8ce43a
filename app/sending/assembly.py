"""Assembly: an issue's audience becomes Delivery rows, one keyset page per batch.

Each page is one INSERT ... SELECT inside the database (the audience never passes
through Python), committed together with the issue's checkpoint, and its send job is
enqueued after that commit. A killed assembler resumes from the checkpoint; the unique
(issue, subscriber) constraint makes a repeated page harmless.
"""

from __future__ import annotations

from sqlalchemy import func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.audiences import service as audiences
from app.config import get_settings
from app.db import utcnow
from app.jobs import Job, enqueue
from app.newsletters.models import Issue, IssueStatus
from app.sending.models import Delivery, DeliveryStatus

ASSEMBLE_ISSUE = Job("assemble_issue", "send")
SEND_BATCH = Job("send_batch", "send")


def audience_query(session: Session, issue: Issue, *, after: int | None = None):  # type: ignore[no-untyped-def]
    """Everyone the issue may go to now, by subscriber id above `after`."""
    return audiences.for_issue(session, issue).query(session, after=after)


def lock_issue(session: Session, issue_id: int) -> Issue | None:
    """The issue row, locked for this transaction (on PostgreSQL) so that two copies
    of the same job cannot interleave."""
    return (
        session.exec(  # type: ignore[call-overload]
            select(Issue).where(col(Issue.id) == issue_id).with_for_update()
        )
        .scalars()
        .first()
    )


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )(Delivery)


def assemble_page(session: Session, issue: Issue, page_size: int) -> int:
    """Insert the next page of the audience as one batch; returns how many were added
    (0 means the audience is complete)."""
    audience = audience_query(session, issue, after=issue.assembled_upto)
    page = audience.limit(page_size).subquery()
    batch = issue.batches + 1
    now = utcnow()
    statement = (
        _insert(session)
        .from_select(
            ["issue_id", "subscriber_id", "batch", "status", "attempts", "created_at"],
            select(
                literal(issue.id),
                page.c.id,
                literal(batch),
                literal(DeliveryStatus.queued.value),
                literal(0),
                literal(now, Delivery.created_at.type),  # type: ignore[attr-defined]
            ).where(true()),  # SQLite needs a WHERE to read the ON CONFLICT that follows
        )
        .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
        .returning(col(Delivery.subscriber_id))
    )
    added = [row[0] for row in session.execute(statement)]
    if not added:
        issue.assembly_done = True
        return 0
    issue.assembled_upto = max(added)
    issue.batches = batch
    enqueue(session, SEND_BATCH, issue.id, batch)
    return len(added)


def assemble(session_factory, issue_id: int) -> int:  # type: ignore[no-untyped-def]
    """Run every remaining page, one transaction each. Returns the rows added."""
    total = 0
    page_size = get_settings().send_batch_size
    while True:
        with session_factory() as session:
            issue = lock_issue(session, issue_id)
            if issue is None or issue.status not in (IssueStatus.sending, IssueStatus.paused):
                return total
            if issue.assembly_done:
                return total
            added = assemble_page(session, issue, page_size)
        total += added
        if not added:
            return total


def progress(session: Session, issue_id: int) -> dict[str, int]:
    counts = dict.fromkeys([s.value for s in DeliveryStatus], 0)
    for status, count in session.execute(
        select(Delivery.status, func.count())
        .where(col(Delivery.issue_id) == issue_id)
        .group_by(Delivery.status)
    ):
        counts[DeliveryStatus(status).value] = count
    return counts
