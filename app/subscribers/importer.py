"""CSV import for admins: every row comes in pending and gets a re-permission email.

Nothing imported is ever active, so nothing imported is mailed a newsletter until the
person confirms. Nobody who withdrew, was erased, bounced or complained is asked again:
those rows are skipped and reported by reason, with duplicates and invalid rows, by
line number.

An import is a job (`ImportJob`): the upload stores the file and enqueues it; the job
works through it in chunks, each committed with its checkpoint (`rows_done`) and the
report so far, so the progress page follows it live and a killed worker resumes where
the last chunk committed. `import_csv` runs the same rows in one go (the CLI, tests).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.consent.models import ConsentSource
from app.db import utcnow
from app.jobs import Job, enqueue, register_sweep
from app.subscribers.models import (
    ImportJob,
    JobStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Topic,
)
from app.subscribers.service import InvalidAddress, normalise_email
from app.subscribers.signup import Signup, request_subscriptions, usable_address
from app.subscribers.suppression_keys import suppressions_of

RUN_IMPORT = Job("run_import", "admin-jobs")
MAX_ROWS = 200_000
MAX_FILE_BYTES = 20_000_000  # the upload; app/body_limits.py lets the form this far
CHUNK = 500
PIECE = 250  # rows looked up and written together (a chunk checks its time between pieces)
# A chunk also ends after this long, so its transaction (on SQLite: the one write lock
# every request needs) is never held for more than about a second.
CHUNK_SECONDS = 1.0
KEEP_LINES = 1000  # line numbers kept per kind for the report; the counts are exact
STALE = timedelta(minutes=2)  # a running import silent this long is resumed by the sweep

# Why a row was skipped: the person told us no, or their address does not take mail.
SKIP_REASONS = {
    "withdrew": "unsubscribed earlier",
    "erased": "erased at their request",
    "bounced": "their address bounced",
    "complained": "they reported our mail as spam",
    "suppressed": "suppressed by an admin",
}
KINDS = ("accepted", "already", "duplicates", "invalid", *SKIP_REASONS)


class CsvImportError(ValueError):
    """The file as a whole cannot be imported (no email column, too many rows)."""


@dataclass
class ImportReport:
    """Counts of each kind of row, and (up to KEEP_LINES of) their line numbers;
    invalid rows keep their problem too."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    lines: dict[str, list] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    def add(self, kind: str, line: int, problem: str | None = None) -> None:
        self.counts[kind] += 1
        if len(self.lines[kind]) < KEEP_LINES:
            self.lines[kind].append([line, problem] if problem is not None else line)

    @property
    def accepted(self) -> list[int]:
        return self.lines["accepted"]

    @property
    def duplicates(self) -> list[int]:
        return sorted(self.lines["duplicates"] + self.lines["already"])

    @property
    def invalid(self) -> list[tuple[int, str]]:
        return [(line, problem) for line, problem in self.lines["invalid"]]

    @property
    def skipped(self) -> dict[str, list[int]]:
        return {reason: self.lines[reason] for reason in SKIP_REASONS if self.counts[reason]}

    @property
    def skipped_count(self) -> int:
        return sum(self.counts[reason] for reason in SKIP_REASONS)

    def to_json(self) -> str:
        return json.dumps({"counts": self.counts, "lines": self.lines}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ImportReport:
        data = json.loads(text or "{}")
        report = cls()
        report.counts.update(data.get("counts", {}))
        report.lines.update(data.get("lines", {}))
        return report


def _rows(content: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; line 1 is the header. Columns past the
    header's are ignored; missing ones are absent."""
    reader = csv.reader(io.StringIO(content))
    fields = [f.strip().lower() for f in next(reader, [])]
    if "email" not in fields:
        raise CsvImportError("the first line must be a header with an 'email' column")
    while True:
        # The file line the record starts on: a quoted field may hold line breaks, so
        # records and lines part ways after one.
        line = reader.line_num + 1
        values = next(reader, None)
        if values is None:
            return
        if values:  # a blank line is no row
            yield line, dict(zip(fields, values, strict=False))


def check_file(content: str) -> int:
    """The number of data rows, or CsvImportError for a file that cannot be imported."""
    count = 0
    for count, _ in enumerate(_rows(content), start=1):  # noqa: B007
        if count > MAX_ROWS:
            raise CsvImportError(f"at most {MAX_ROWS:,} rows per import; split the file")
    return count


def _reason_of(suppression: Suppression) -> str:
    reason = suppression.reason.lower()
    if "erase" in reason:
        return "erased"
    if "bounce" in reason:
        return "bounced"
    if "complain" in reason:
        return "complained"
    return "suppressed"


@dataclass
class _Row:
    line: int
    email: str | None = None  # None: invalid or a duplicate, already reported
    first_name: str | None = None


def _parse(line: int, row: dict[str, str], seen: set[str], report: ImportReport) -> _Row:
    raw = (row.get("email") or "").strip()
    first_name = (row.get("first_name") or "").strip() or None
    if any(ch in (raw + (first_name or "")) for ch in "\r\n"):
        report.add("invalid", line, "line breaks inside a field")
        return _Row(line)
    try:
        email = usable_address(raw)
    except InvalidAddress as exc:
        report.add("invalid", line, str(exc) if raw else "no email address")
        return _Row(line)
    if first_name and len(first_name) > 80:
        report.add("invalid", line, "first name longer than 80 characters")
        return _Row(line)
    if email in seen:
        report.add("duplicates", line)
        return _Row(line)
    seen.add(email)
    return _Row(line, email, first_name)


def _skip_reasons(session: Session, emails: list[str]) -> dict[str, str]:
    """Why each of these people must not be asked again (those who must not), found with
    a few queries for the whole chunk: suppressions by HMAC, then who withdrew."""
    reasons = {email: _reason_of(s) for email, s in suppressions_of(session, emails).items()}
    rest = [email for email in emails if email not in reasons]
    for start in range(0, len(rest), 1000):
        withdrew = session.exec(
            select(Subscriber.email)
            .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
            .where(
                col(Subscriber.email).in_(rest[start : start + 1000]),
                (col(Subscription.status) == SubscriptionStatus.unsubscribed)
                | (col(Subscription.sharing) == SubscriptionStatus.unsubscribed),
            )
            .distinct()
        ).all()
        reasons.update(dict.fromkeys(withdrew, "withdrew"))
    return reasons


def _import_rows(
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    *,
    topics: list[Topic],
    seen: set[str],
    report: ImportReport,
) -> None:
    """Import a piece: check every line, look up who must be skipped in bulk, then ask
    the rest together (the report lists each kind in line order, like the file)."""
    parsed = [_parse(line, row, seen, report) for line, row in rows]
    skip = _skip_reasons(session, [r.email for r in parsed if r.email is not None])
    asking = [row for row in parsed if row.email is not None and row.email not in skip]
    outcomes = dict(
        zip(
            [row.line for row in asking],
            request_subscriptions(
                session,
                [
                    Signup(
                        email=row.email,  # type: ignore[arg-type]
                        topics=topics,
                        source=ConsentSource.import_,
                        first_name=row.first_name,
                    )
                    for row in asking
                ],
            ),
            strict=True,
        )
    )
    for row in parsed:
        if row.email is None:
            continue
        if row.email in skip:
            report.add(skip[row.email], row.line)
        elif outcomes[row.line].mailed == "already":
            report.add("already", row.line)  # already on these lists: nobody is mailed
        elif outcomes[row.line].mailed is None:
            report.add("suppressed", row.line)
        else:
            report.add("accepted", row.line)


def import_csv(session: Session, *, content: str, topics: list[Topic]) -> ImportReport:
    """Import every row in the caller's transaction. Rows need an `email` column;
    `first_name` is optional."""
    if not topics:
        raise CsvImportError("choose at least one topic to import into")
    check_file(content)
    report, seen = ImportReport(), set[str]()
    rows = list(_rows(content))
    for start in range(0, len(rows), CHUNK):
        _import_rows(session, rows[start : start + CHUNK], topics=topics, seen=seen, report=report)
    return report


# Imports as jobs ---------------------------------------------------------------------


def start_import(
    session: Session, *, content: str, filename: str, topics: list[Topic], account_id: int | None
) -> ImportJob:
    """Store the file and enqueue its job (after commit). Raises CsvImportError."""
    if not topics:
        raise CsvImportError("choose at least one topic to import into")
    total = check_file(content)
    job = ImportJob(
        account_id=account_id,
        filename=filename[:200],
        topic_ids=",".join(str(t.id) for t in topics),
        content=content,
        total_rows=total,
        report=ImportReport().to_json(),
    )
    session.add(job)
    session.flush()
    enqueue(session, RUN_IMPORT, job.id)
    return job


@dataclass
class ImportRun:
    """A worker's pass over one import: the rows it has seen, across its chunks."""

    job_id: int
    seen: set[str] = field(default_factory=set)
    position: int = -1  # rows_done as this run last committed it; -1 before the first

    def chunk(self, session: Session) -> bool:
        """Import the next CHUNK rows in the caller's transaction; True while rows remain.

        The checkpoint moves by a conditional UPDATE: if another worker moved it first,
        this chunk fails with StaleRun and its transaction must roll back."""
        job = session.get(ImportJob, self.job_id)
        if job is None or job.status in (JobStatus.done, JobStatus.failed):
            return False
        topic_ids = [int(i) for i in job.topic_ids.split(",") if i]
        topics = list(session.exec(select(Topic).where(col(Topic.id).in_(topic_ids))).all())
        rows = _rows(job.content)
        if self.position != job.rows_done:  # first chunk, or resuming another's work
            self.seen = set()
            for _ in range(job.rows_done):
                _line, row = next(rows)
                with contextlib.suppress(InvalidAddress):
                    self.seen.add(normalise_email((row.get("email") or "").strip()))
        else:
            for _ in range(job.rows_done):
                next(rows)
        report = ImportReport.from_json(job.report)
        done = job.rows_done
        started = time.monotonic()
        # Pieces of the chunk are checked in bulk; the chunk ends after CHUNK rows or
        # CHUNK_SECONDS, whichever comes first.
        while done - job.rows_done < CHUNK and time.monotonic() - started <= CHUNK_SECONDS:
            piece = list(itertools.islice(rows, min(PIECE, CHUNK - (done - job.rows_done))))
            if not piece:
                break
            _import_rows(session, piece, topics=topics, seen=self.seen, report=report)
            done += len(piece)
        finished = done >= job.total_rows
        moved = session.execute(
            update(ImportJob)
            .where(col(ImportJob.id) == self.job_id, col(ImportJob.rows_done) == job.rows_done)
            .values(
                rows_done=done,
                report=report.to_json(),
                status=JobStatus.done if finished else JobStatus.running,
                updated_at=utcnow(),
                finished_at=utcnow() if finished else None,
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleRun(self.job_id)
        self.position = done
        return not finished


class StaleRun(RuntimeError):
    """Another worker moved this import on; this one stops."""


def fail(session: Session, job_id: int, error: str) -> None:
    job = session.get(ImportJob, job_id)
    if job is not None:
        job.status = JobStatus.failed
        job.error = error[:500]
        job.finished_at = utcnow()


@register_sweep("admin-imports")
def sweep_imports(session: Session) -> None:
    """Resume imports whose worker went silent (lost message, killed worker)."""
    for job_id in session.exec(
        select(ImportJob.id).where(
            col(ImportJob.status).in_([JobStatus.queued, JobStatus.running]),
            col(ImportJob.updated_at) < utcnow() - STALE,
        )
    ).all():
        enqueue(session, RUN_IMPORT, job_id)
