"""CSV exports of a filtered subscriber list, built by a job, downloaded by an admin.

The request only stores the filters and enqueues the job (after commit); the job walks
the list in keyset pages (the same query as the admin list) and stores the file. The
sweep re-sends exports left unfinished by a lost message or a killed worker.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlmodel import Session, col, select

from app.db import utcnow
from app.jobs import Job, enqueue, register_sweep
from app.subscribers import roster
from app.subscribers.models import ExportJob, JobStatus, Subscription, SubscriptionStatus, Topic

RUN_EXPORT = Job("run_export", "admin-jobs")
CHUNK = 1000
COLUMNS = [
    "email",
    "first_name",
    "subscribed_since",
    "active_topics",
    "pending_topics",
    "suppressed",
]
# Exports hold addresses: keep them only as long as an admin needs to download them.
KEEP = timedelta(days=2)
STALE = timedelta(minutes=10)


def start_export(session: Session, *, filters: roster.Filters, account_id: int) -> ExportJob:
    export = ExportJob(account_id=account_id, filters=json.dumps(filters.query_params()))
    session.add(export)
    session.flush()
    enqueue(session, RUN_EXPORT, export.id)
    return export


def filters_of(export: ExportJob) -> roster.Filters:
    return roster.Filters.from_query(json.loads(export.filters))


def build(session: Session, export_id: int) -> ExportJob | None:
    """Write the whole file (idempotent: a rerun starts the file again)."""
    export = session.get(ExportJob, export_id)
    if export is None or export.status == JobStatus.done:
        return export
    export.status = JobStatus.running
    filters = filters_of(export)
    topics = {t.id: t.slug for t in session.exec(select(Topic)).all()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    rows, after = 0, ""
    while True:
        page = roster.search(session, filters, after=after, limit=CHUNK)
        ids = [row.subscriber.id for row in page.rows]
        states: dict[int, dict[str, list[str]]] = {i: {"active": [], "pending": []} for i in ids}  # type: ignore[misc]
        for sub in session.exec(
            select(Subscription).where(col(Subscription.subscriber_id).in_(ids))
        ):
            if sub.status in (SubscriptionStatus.active, SubscriptionStatus.pending):
                states[sub.subscriber_id][sub.status.value].append(topics.get(sub.topic_id, "?"))
        for row in page.rows:
            person = row.subscriber
            state = states[person.id]  # type: ignore[index]
            writer.writerow(
                [
                    person.email,
                    person.first_name or "",
                    person.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    " ".join(sorted(state["active"])),
                    " ".join(sorted(state["pending"])),
                    "yes" if row.suppressed else "no",
                ]
            )
        rows += len(page.rows)
        if page.next_after is None:
            break
        after = page.next_after
    export.content = out.getvalue()
    export.rows = rows
    export.status = JobStatus.done
    export.finished_at = utcnow()
    return export


def fail(session: Session, export_id: int, error: str) -> None:
    export = session.get(ExportJob, export_id)
    if export is not None:
        export.status = JobStatus.failed
        export.error = error[:500]
        export.finished_at = utcnow()


@register_sweep("admin-exports")
def sweep_exports(session: Session) -> None:
    now = utcnow()
    for export_id in session.exec(
        select(ExportJob.id).where(
            col(ExportJob.status).in_([JobStatus.queued, JobStatus.running]),
            col(ExportJob.created_at) < now - STALE,
        )
    ).all():
        enqueue(session, RUN_EXPORT, export_id)
    for old in session.exec(select(ExportJob).where(col(ExportJob.created_at) < now - KEEP)).all():
        session.delete(old)
