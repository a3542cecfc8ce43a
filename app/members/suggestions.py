"""Suggest an update: anyone may send a correction to a member's directory listing; the
member's owners get it by email and accept it with one click (or dismiss it). Nothing
changes without them: accepting saves it through the profile (so it is in the change
log), and it never changes what is shown — the member's switches decide that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Session, SQLModel, col, select

from app import ratelimit
from app.config import get_settings
from app.db import enum_type, utcnow
from app.i18n import format_number, lazy_gettext
from app.i18n import gettext as _
from app.mailing.service import queue_transactional
from app.members import service
from app.members.forms import FIELD_LABELS, profile_values, validate
from app.members.models import Account, Member
from app.members.schemas import MemberProfile

# What a suggestion may correct (the logo is left to the member).
FIELDS = (
    "name",
    "website",
    "description",
    "offer",
    "kind",
    "sectors",
    "country",
    "region",
    "city",
    "contact_email",
    "founded_year",
    "languages",
)


# Suggestions a member's owners get per hour at most (each is an email to every owner).
PER_HOUR = 10


class SuggestionStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    dismissed = "dismissed"


STATUS_LABELS = {
    SuggestionStatus.pending: lazy_gettext("waiting for your decision"),
    SuggestionStatus.accepted: lazy_gettext("accepted"),
    SuggestionStatus.dismissed: lazy_gettext("dismissed"),
}


class ListingSuggestion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    field: str = Field(max_length=40)
    value: str = Field(max_length=2000)
    note: str = Field(default="", max_length=500)
    from_email: str | None = Field(default=None, max_length=320)
    status: SuggestionStatus = Field(
        default=SuggestionStatus.pending, sa_type=enum_type(SuggestionStatus)
    )
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="account.id")


class SuggestionRefused(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _profile_with(member: Member, field: str, value: str) -> dict[str, object]:
    values = profile_values(member)
    values[field] = (
        [v for v in value.replace(",", " ").split() if v] if field == "sectors" else value
    )
    return values


def suggest(
    session: Session,
    *,
    member: Member,
    field: str,
    value: str,
    note: str = "",
    from_email: str = "",
) -> ListingSuggestion:
    """Check the correction as the profile form would, keep it, and email the owners."""
    errors: dict[str, str] = {}
    value, note, from_email = value.strip(), note.strip(), from_email.strip()
    if field not in FIELDS:
        errors["field"] = _("Choose what to correct.")
    elif not value:
        errors["value"] = _("Write the corrected value.")
    else:
        _profile, problems = validate(MemberProfile, _profile_with(member, field, value))
        if field in problems:
            errors["value"] = problems[field]
    if len(value) > 2000:
        errors["value"] = _("Keep the value to %(max)s characters.", max=format_number(2000))
    if len(note) > 500:
        errors["note"] = _("Keep the note to %(max)s characters.", max=format_number(500))
    email = None
    if from_email:
        try:
            email = service.normalise_email(from_email, field="from_email")
        except service.MemberFormError as exc:
            errors["from_email"] = exc.message
    if errors:
        raise SuggestionRefused(errors)
    if not ratelimit.hit("directory-suggestion", member.slug, limit=PER_HOUR, window_seconds=3600):
        raise SuggestionRefused(
            {"form": _("This co-op has many suggestions waiting; please try again in an hour.")}
        )
    suggestion = ListingSuggestion(
        member_id=member.id or 0, field=field, value=value, note=note, from_email=email
    )
    session.add(suggestion)
    session.flush()
    url = f"{get_settings().base_url.rstrip('/')}/member/suggestions/{suggestion.id}"
    for owner in service.owners(session, member_id=member.id or 0):
        queue_transactional(
            session,
            kind="directory-suggestion",
            to=owner.email,
            subject=lazy_gettext("A suggested correction to your co-op's directory listing"),
            template="directory_suggestion",
            member_name=member.name,
            field_label=FIELD_LABELS.get(field, field),
            value=value,
            note=note,
            review_url=url,
        )
    return suggestion


def pending(session: Session, *, member_id: int) -> Sequence[ListingSuggestion]:
    return session.exec(
        select(ListingSuggestion)
        .where(
            ListingSuggestion.member_id == member_id,
            ListingSuggestion.status == SuggestionStatus.pending,
        )
        .order_by(col(ListingSuggestion.id))
    ).all()


def of_member(session: Session, *, member_id: int, suggestion_id: int) -> ListingSuggestion | None:
    found = session.get(ListingSuggestion, suggestion_id)
    return found if found is not None and found.member_id == member_id else None


def decide(
    session: Session,
    *,
    member: Member,
    suggestion: ListingSuggestion,
    account: Account,
    accept: bool,
) -> ListingSuggestion:
    """Accept (the value is saved through the profile) or dismiss; once only, decided on
    the row itself so two owners clicking at once cannot both apply it."""
    claimed = session.exec(
        select(ListingSuggestion)
        .where(
            ListingSuggestion.id == suggestion.id,
            ListingSuggestion.status == SuggestionStatus.pending,
        )
        .with_for_update()
    ).first()
    if claimed is None:
        raise SuggestionRefused({"form": _("This suggestion was already decided.")})
    if accept:
        profile, problems = validate(
            MemberProfile, _profile_with(member, claimed.field, claimed.value)
        )
        if profile is None:
            raise SuggestionRefused(
                {
                    "form": _(
                        "It no longer fits the profile: %(problems)s",
                        problems=" ".join(problems.values()),
                    )
                }
            )
        service.update_profile(session, member=member, profile=profile, account=account)
    claimed.status = SuggestionStatus.accepted if accept else SuggestionStatus.dismissed
    claimed.decided_at, claimed.decided_by = utcnow(), account.id
    session.add(claimed)
    session.flush()
    return claimed
