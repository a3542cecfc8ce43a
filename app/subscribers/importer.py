"""CSV import for admins: every row comes in pending and gets a re-permission email.

Nothing imported is ever active, so nothing imported is mailed a newsletter until the
person confirms. The report lists rows accepted, duplicates and invalid rows by line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlmodel import Session

from app.consent.models import ConsentSource
from app.subscribers.models import Topic
from app.subscribers.service import InvalidAddress, normalise_email
from app.subscribers.signup import Signup, request_subscription

MAX_ROWS = 10_000
MAX_FILE_BYTES = 5_000_000  # the upload; app/body_limits.py lets the form this far


@dataclass
class ImportReport:
    accepted: list[int] = field(default_factory=list)  # line numbers
    duplicates: list[int] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)  # erased or bounced: never mailed


class CsvImportError(ValueError):
    """The file as a whole cannot be imported (no email column, too many rows)."""


def import_csv(session: Session, *, content: str, topics: list[Topic]) -> ImportReport:
    """Rows need an `email` column; `first_name` is optional. Line 1 is the header."""
    if not topics:
        raise CsvImportError("choose at least one topic to import into")
    reader = csv.DictReader(io.StringIO(content))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "email" not in fields:
        raise CsvImportError("the first line must be a header with an 'email' column")
    reader.fieldnames = fields
    report = ImportReport()
    seen: set[str] = set()
    for index, row in enumerate(reader):
        line = index + 2
        if index >= MAX_ROWS:
            raise CsvImportError(f"at most {MAX_ROWS} rows per import; split the file")
        raw = (row.get("email") or "").strip()
        first_name = (row.get("first_name") or "").strip() or None
        if any(ch in (raw + (first_name or "")) for ch in "\r\n"):
            report.invalid.append((line, "line breaks inside a field"))
            continue
        try:
            email = normalise_email(raw)
        except InvalidAddress as exc:
            report.invalid.append((line, str(exc) if raw else "no email address"))
            continue
        if first_name and len(first_name) > 80:
            report.invalid.append((line, "first name longer than 80 characters"))
            continue
        if email in seen:
            report.duplicates.append(line)
            continue
        seen.add(email)
        outcome = request_subscription(
            session,
            signup=Signup(
                email=email, topics=topics, source=ConsentSource.import_, first_name=first_name
            ),
        )
        if outcome.mailed == "already":
            report.duplicates.append(line)  # already on these lists
        elif outcome.mailed is None:
            report.suppressed.append(line)
        else:
            report.accepted.append(line)
    return report
