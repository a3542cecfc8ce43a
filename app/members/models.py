"""Members (co-ops) and Accounts (people who log in): the tables. What members say
about themselves and the API shapes of a member are in app/members/schemas.py."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text, event
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow

# /members/<these> are directory pages, not members.
RESERVED_SLUGS = frozenset({"codes", "embed"})
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


class MemberStatus(StrEnum):
    applied = "applied"
    active = "active"
    suspended = "suspended"  # a member the Club stopped; reactivating brings it back
    declined = "declined"  # an application the Club turned down, with a reason


class Role(StrEnum):
    admin = "admin"  # a Club admin; belongs to no member
    owner = "owner"  # a member's owner: staff, keys, settings
    staff = "staff"  # a member's staff


MEMBER_ROLES = (Role.owner, Role.staff)


class MemberBase(SQLModel):
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80, unique=True, index=True)
    website: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=2000)
    kind: str | None = Field(default=None, max_length=80)
    region: str | None = Field(default=None, max_length=120)
    logo_url: str | None = Field(default=None, max_length=500)
    # What the member chose to show in the public directory (its name is always shown).
    show_website: bool = True
    show_description: bool = True
    show_kind: bool = True
    show_region: bool = True
    show_logo: bool = True
    # The directory profile (app/members/codes.py has the code lists). Lists are stored
    # as ",a,b," so a filter is one LIKE on a code, which never holds a wildcard.
    country: str | None = Field(default=None, max_length=2)  # ISO 3166-1 alpha-2
    city: str | None = Field(default=None, max_length=120)
    contact_email: str | None = Field(default=None, max_length=320)
    founded_year: int | None = None
    languages: str | None = Field(default=None, max_length=400)  # BCP 47 tags
    offer: str | None = Field(default=None, max_length=500)
    sectors: str | None = Field(default=None, max_length=200)
    # Fields added with the directory are hidden until the member shows them.
    show_country: bool = False
    show_city: bool = False
    show_contact: bool = False
    show_founded: bool = False
    show_languages: bool = False
    show_offer: bool = False
    show_sectors: bool = False

    @property
    def sector_list(self) -> list[str]:
        return unpack(self.sectors)

    @property
    def language_list(self) -> list[str]:
        return unpack(self.languages)


def pack(items: list[str]) -> str | None:
    return "," + ",".join(items) + "," if items else None


def unpack(stored: str | None) -> list[str]:
    return [item for item in (stored or "").split(",") if item]


class Member(MemberBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: MemberStatus = Field(default=MemberStatus.applied, sa_type=enum_type(MemberStatus))
    created_at: datetime = Field(default_factory=utcnow)
    # When the public profile last changed (JSON-LD dateModified, export ETags).
    updated_at: datetime | None = None
    # The text a directory search looks in: only what the member publishes (kept by
    # app/members/directory.py on every write), so a search never finds a hidden value.
    search_text: str = Field(default="", sa_type=Text)

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.active


class AccountBase(SQLModel):
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(default="", max_length=120)
    role: Role = Field(sa_type=enum_type(Role))


class Account(AccountBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @property
    def label(self) -> str:
        return self.display_name or self.email


class Invitation(SQLModel, table=True):
    """A member's invitation of a person who has no account yet: no account exists until
    the person accepts (by the emailed link); ignoring it leaves nothing behind."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    email: str = Field(max_length=320, index=True)
    display_name: str = Field(default="", max_length=120)
    role: Role = Field(sa_type=enum_type(Role))
    invited_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)
    accepted_at: datetime | None = None


class PendingApplication(SQLModel, table=True):
    """An application to join whose owner address is not confirmed yet: the form as typed
    (JSON), waiting for the emailed link. Not a member and not an account; deleted on
    confirmation, or by the sweep once expired (app/members/applications.py)."""

    __tablename__ = "pending_application"

    id: int | None = Field(default=None, primary_key=True)
    nonce_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320)
    language: str | None = Field(default=None, max_length=10)
    form: str = Field(sa_type=Text)  # JSON: the form's values, validated again on confirming
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


@event.listens_for(Member, "before_insert")
@event.listens_for(Member, "before_update")
def _keep_search_text(_mapper: object, _connection: object, member: Member) -> None:
    """Member.search_text follows every write, in every process (the web app, `coopclub
    demo`, workers): registered with the model, so no entry point writes without it."""
    from app.members.directory import public_text  # the search decides what it finds

    member.search_text = public_text(member)
    if member.updated_at is None:
        member.updated_at = member.created_at or utcnow()
