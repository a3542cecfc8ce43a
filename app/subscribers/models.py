"""Topics, Subscribers, Subscriptions and Suppressions, with their API shapes."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum

from pydantic import EmailStr, field_validator, model_validator
from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app import i18n
from app.db import enum_type, utcnow
from app.one_line_text import one_line


class SubscriptionStatus(StrEnum):
    pending = "pending"
    active = "active"
    unsubscribed = "unsubscribed"


class TopicStatus(StrEnum):
    """`open` topics take signups; `hidden` ones keep their subscribers (and their
    newsletters keep going) but leave every public page and take no signups;
    `archived` ones are hidden and also leave the admins' pickers."""

    open = "open"
    hidden = "hidden"
    archived = "archived"


class TopicBase(SQLModel):
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=1000)
    public: bool = True  # unlisted topics are reachable by link only


class Topic(TopicBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    status: TopicStatus = Field(default=TopicStatus.open, sa_type=enum_type(TopicStatus))
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def is_open(self) -> bool:
        return self.status == TopicStatus.open


class TopicPublic(SQLModel):
    slug: str
    name: str
    description: str
    owner: str | None  # the owning member's slug; None for a Club-wide topic


def new_subscriber_key() -> str:
    return secrets.token_hex(16)


class Subscriber(SQLModel, table=True):
    """A person on the lists: the address plus only what they chose to give."""

    __table_args__ = (
        # Admins page through people newest first, optionally of one source member.
        Index("ix_subscriber_source_member_id_id", "source_member_id", "id"),
        # Prefix search by address on PostgreSQL (LIKE 'abc%' whatever the collation).
        Index("ix_subscriber_email_prefix", "email", postgresql_ops={"email": "text_pattern_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(default_factory=new_subscriber_key, max_length=32, unique=True)
    email: str = Field(max_length=320, unique=True)
    address_hmac: str = Field(max_length=64, index=True)  # joins against Suppression
    first_name: str | None = Field(default=None, max_length=80)
    # The language they read (en, fr, es): the signup page's, or chosen in the preference
    # centre; every email to them is in it. None: the Club's default (app.i18n).
    language: str | None = Field(default=None, max_length=16)
    source_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = Field(default_factory=utcnow)


class ConfirmationLink(SQLModel, table=True):
    """One mailed confirmation link. What it confirms is exactly the `requested` events
    in the consent ledger that carry its `token_digest` (bound when it was sent, never
    added to later); `confirmed_at` makes it work once."""

    __tablename__ = "confirmation_link"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    token_digest: str = Field(max_length=64, unique=True)  # sha256 of the mailed token
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None


class Subscription(SQLModel, table=True):
    """A subscriber on a topic; `sharing` is the consent to offers from other members."""

    __table_args__ = (
        UniqueConstraint("subscriber_id", "topic_id"),
        # The people of one topic (in one state), by subscriber id: keyset pages.
        Index(
            "ix_subscription_topic_id_status_subscriber_id", "topic_id", "status", "subscriber_id"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    topic_id: int = Field(foreign_key="topic.id", index=True)
    status: SubscriptionStatus = Field(sa_type=enum_type(SubscriptionStatus), index=True)
    sharing: SubscriptionStatus | None = Field(default=None, sa_type=enum_type(SubscriptionStatus))
    updated_at: datetime = Field(default_factory=utcnow)


class Suppression(SQLModel, table=True):
    """An address never to be mailed again, kept only as HMAC(pepper, address)."""

    id: int | None = Field(default=None, primary_key=True)
    address_hmac: str = Field(max_length=64, unique=True)
    reason: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)


class LegacyPepper(SQLModel, table=True):
    """A suppression pepper from before COOPCLUB_SUPPRESSION_PEPPER (derived from a signing
    key), sealed under the pepper, so suppressions made with it keep matching after that
    signing key is removed (app/subscribers/suppression_keys.py)."""

    __tablename__ = "legacy_pepper"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)  # HMAC(pepper, legacy pepper)
    sealed: str = Field(max_length=200)  # Fernet(key from the pepper), the legacy pepper
    created_at: datetime = Field(default_factory=utcnow)


class TopicDay(SQLModel, table=True):
    """A daily rollup of the consent ledger: people who joined and left a topic that
    UTC day. Integrated from the ledger by `app.subscribers.growth`, never edited by
    hand, so the admin overview reads a few hundred rows instead of every event."""

    __tablename__ = "topic_day"

    topic_id: int = Field(foreign_key="topic.id", primary_key=True)
    day: date = Field(primary_key=True)
    joined: int = 0
    left: int = 0


class LedgerRollup(SQLModel, table=True):
    """How far into the ledger (by `seq`) each rollup has integrated."""

    __tablename__ = "ledger_rollup"

    name: str = Field(primary_key=True, max_length=40)
    seq: int = 0


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ImportJob(SQLModel, table=True):
    """An admin's CSV import, run in chunks by a job; `report` is JSON (counts and the
    line numbers of each kind of row) and grows as each chunk commits."""

    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    filename: str = Field(max_length=200)
    topic_ids: str = Field(max_length=2000)  # comma-separated
    content: str = Field(sa_type=Text)
    status: JobStatus = Field(default=JobStatus.queued, sa_type=enum_type(JobStatus))
    total_rows: int = 0
    rows_done: int = 0
    report: str = Field(default="{}", sa_type=Text)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class ExportJob(SQLModel, table=True):
    """A CSV export of a filtered subscriber list, built by a job for one admin."""

    __tablename__ = "export_job"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    filters: str = Field(default="{}", max_length=2000)  # JSON of the list's filters
    status: JobStatus = Field(default=JobStatus.queued, sa_type=enum_type(JobStatus))
    rows: int = 0
    content: str = Field(default="", sa_type=Text)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


# The signup request, shared by the JSON API and the HTML forms ------------------------

MAX_TOPICS_PER_SIGNUP = 50


def _reject_line_breaks(value: object) -> object:
    for item in value if isinstance(value, list) else [value]:
        one_line(item)
    return value


class SubscribeRequest(SQLModel):
    email: EmailStr = Field(max_length=320)
    topics: list[str] = Field(default_factory=list, description="topic slugs, at least one")
    first_name: str | None = Field(default=None, max_length=80)
    share_with_members: bool = False
    form_token: str | None = Field(
        default=None,
        max_length=2000,
        description="The signed form token from a member's signup snippet (its hidden "
        "`form_token` field): attributes the signup to that member and limits it to the "
        "snippet's topics. A server of the member's can send its API key instead.",
    )
    language: str | None = Field(
        default=None,
        max_length=35,
        description="The language (BCP 47: en, fr, es, fr-CA, es-MX…) of the page the person "
        "signed up on: the confirmation email and the consent texts it quotes are in it, and "
        "it becomes their language. We write in en, fr and es; any other is refused (422). "
        "Without it, the Club's default language.",
    )
    source: str | None = Field(
        default=None,
        max_length=80,
        schema_extra={"json_schema_extra": {"deprecated": True}},
        description="Ignored. A member's slug never attributes a signup: send the member's "
        "API key (`Authorization: Bearer`) or its snippet's `form_token`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _topics_given(cls, data: object) -> object:
        # A missing list is checked like an empty one: "choose at least one topic".
        if isinstance(data, dict) and "topics" not in data:
            return {**data, "topics": []}
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _one_line_each(cls, value: object) -> object:
        return _reject_line_breaks(value)

    @field_validator("first_name", "source")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @field_validator("language")
    @classmethod
    def _a_language_we_write(cls, value: str | None) -> str | None:
        return i18n.parse_language(value) if value else None

    @field_validator("topics")
    @classmethod
    def _some_topics(cls, value: list[str]) -> list[str]:
        slugs = list(dict.fromkeys(v.strip() for v in value if v.strip()))
        if not slugs:
            raise ValueError(i18n.gettext("choose at least one topic"))
        if len(slugs) > MAX_TOPICS_PER_SIGNUP:
            raise ValueError(
                i18n.gettext("choose at most %(max)s topics at a time", max=MAX_TOPICS_PER_SIGNUP)
            )
        return slugs


class SubscribeAccepted(SQLModel):
    status: str = "pending"
