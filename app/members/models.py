"""Members (co-ops) and Accounts (people who log in), with their API shapes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow


class MemberStatus(StrEnum):
    applied = "applied"
    active = "active"
    suspended = "suspended"


class Role(StrEnum):
    admin = "admin"  # a Club admin; belongs to no member
    owner = "owner"  # a member's owner: staff, keys, settings
    staff = "staff"  # a member's staff


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
