"""Directory changes are history: every change to a member's directory profile (a value
or a "show in the directory" switch) is a row saying who changed what, and when.

The member's owners see it on their profile page and admins on the member's admin page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Field, Session, SQLModel, col, select

from app.db import utcnow
from app.i18n import gettext as _
from app.members import codes
from app.members.models import Account, Member, unpack
from app.members.schemas import SHOW_FIELDS, MemberProfile

# Values longer than this are kept cut (a description is up to 2,000 characters).
KEPT_CHARACTERS = 500


class DirectoryChange(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    field: str = Field(max_length=40)
    old_value: str | None = Field(default=None, max_length=KEPT_CHARACTERS)
    new_value: str | None = Field(default=None, max_length=KEPT_CHARACTERS)
    changed_at: datetime = Field(default_factory=utcnow)

    @property
    def field_label(self) -> str:
        """The field's name in the reader's language ("City", "City (shown in the
        directory)" for its switch); the stored `field` is the column's name."""
        from app.members.forms import CHANGE_LABELS  # (forms reads the models this sits by)

        return str(CHANGE_LABELS.get(self.field, self.field))

    def value_text(self, value: str | None) -> str:
        """A value as the change log shows it: switches as shown or hidden, kinds and
        sectors by their names, in the reader's language; other values as kept."""
        if value is None:
            return "—"
        if self.field in SHOW_FIELDS and value in ("shown", "hidden"):
            return _("shown") if value == "shown" else _("hidden")
        if self.field == "kind":
            return codes.kind_name(value)
        if self.field == "sectors":
            return ", ".join(codes.sector_name(code) for code in unpack(value))
        return value


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "shown" if value else "hidden"
    return str(value)[:KEPT_CHARACTERS]


def record(
    session: Session, *, member: Member, profile: MemberProfile, account: Account | None
) -> list[DirectoryChange]:
    """Rows for what `profile` changes on `member` (call before applying it)."""
    now = utcnow()
    changes = []
    for name, new in profile.stored().items():
        old = getattr(member, name)
        if old == new or (not old and not new and name not in SHOW_FIELDS):
            continue
        change = DirectoryChange(
            member_id=member.id or 0,
            account_id=account.id if account else None,
            field=name,
            old_value=_text(old),
            new_value=_text(new),
            changed_at=now,
        )
        session.add(change)
        changes.append(change)
    return changes


def changes_of(
    session: Session, *, member_id: int, limit: int = 50
) -> Sequence[tuple[DirectoryChange, Account | None]]:
    rows = session.exec(
        select(DirectoryChange, Account)
        .join(Account, col(Account.id) == DirectoryChange.account_id, isouter=True)
        .where(DirectoryChange.member_id == member_id)
        .order_by(col(DirectoryChange.id).desc())
        .limit(limit)
    ).all()
    return [(change, account) for change, account in rows]
