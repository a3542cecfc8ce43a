"""Members (co-ops) and Accounts (people who log in), with their API shapes."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow
from app.one_line_text import one_line

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


class MemberStatus(StrEnum):
    applied = "applied"
    active = "active"
    suspended = "suspended"


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


class Member(MemberBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: MemberStatus = Field(default=MemberStatus.applied, sa_type=enum_type(MemberStatus))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.active


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+\.[^\s]+$", value):
        raise ValueError("enter a full web address starting with https://")
    return value


def _https_url(value: str | None) -> str | None:
    """Images are shown on our pages, whose policy loads only https images."""
    value = _http_url(value)
    if value is not None and not value.startswith("https://"):
        raise ValueError("the logo must be at an https:// address (http:// images are blocked)")
    return value


class MemberProfile(SQLModel):
    """What a member says about itself, and which of it the public directory shows."""

    name: str = Field(min_length=2, max_length=200)
    website: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=2000)
    kind: str | None = Field(default=None, max_length=80)
    region: str | None = Field(default=None, max_length=120)
    logo_url: str | None = Field(default=None, max_length=500)
    show_website: bool = False
    show_description: bool = False
    show_kind: bool = False
    show_region: bool = False
    show_logo: bool = False

    @field_validator("name", mode="before")
    @classmethod
    def _strip_name(cls, value: object) -> object:
        return one_line(value.strip() if isinstance(value, str) else value)

    @field_validator("website", "description", "kind", "region", "logo_url", mode="before")
    @classmethod
    def _optional_text(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        return _https_url(value)


class MemberApplication(MemberProfile):
    """The public "apply to join" form: the co-op, its web address slug, and its owner."""

    slug: str = Field(max_length=80)
    owner_email: str = Field(max_length=320)
    owner_name: str = Field(default="", max_length=120)

    @field_validator("owner_name", mode="before")
    @classmethod
    def _one_line_name(cls, value: object) -> object:
        return one_line(value)

    @field_validator("slug", mode="before")
    @classmethod
    def _slug(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            if not SLUG_PATTERN.match(value):
                raise ValueError(
                    "use 2 to 80 lowercase letters, digits and dashes, e.g. riverside-food"
                )
        return value


class MemberPublic(SQLModel):
    """A member as the public directory shows it: unpublished fields are null."""

    name: str
    slug: str
    website: str | None = None
    description: str | None = None
    kind: str | None = None
    region: str | None = None
    logo_url: str | None = None

    @classmethod
    def of(cls, member: Member) -> MemberPublic:
        return cls(
            name=member.name,
            slug=member.slug,
            website=member.website if member.show_website else None,
            description=member.description if member.show_description else None,
            kind=member.kind if member.show_kind else None,
            region=member.region if member.show_region else None,
            logo_url=member.logo_url if member.show_logo else None,
        )


class MemberSelf(MemberBase):
    """A member as its own accounts and API keys see it."""

    id: int
    status: MemberStatus
    created_at: datetime


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
