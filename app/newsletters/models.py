"""Newsletters, their Issues and the blocks an issue is composed of."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow


class IssueStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    sending = "sending"
    paused = "paused"
    sent = "sent"
    cancelled = "cancelled"


class BlockKind(StrEnum):
    text = "text"  # Markdown, rendered with markdown-it-py and sanitised with nh3
    image = "image"  # an https image with alt text and an optional https link
    button = "button"  # a call to action: label and https link
    sponsor = "sponsor"  # where a booked sponsor slot's creative appears
    classified = "classified"  # where a booked classified slot's creative appears


SLOT_KINDS = (BlockKind.sponsor, BlockKind.classified)


class NewsletterTopic(SQLModel, table=True):
    __tablename__ = "newsletter_topic"

    newsletter_id: int = Field(foreign_key="newsletter.id", primary_key=True, ondelete="CASCADE")
    topic_id: int = Field(foreign_key="topic.id", primary_key=True, ondelete="CASCADE")


class NewsletterBase(SQLModel):
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80)
    description: str = Field(default="", max_length=2000)
    sender_name: str = Field(max_length=120)
    sender_address: str = Field(max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    template: str = Field(default="newsletter", max_length=80)
    # The default slot layout each new issue offers (prices in minor units).
    sponsor_slots: int = Field(default=1, ge=0, le=10)
    sponsor_price: int = Field(default=25_000, ge=0)
    classified_slots: int = Field(default=2, ge=0, le=20)
    classified_price: int = Field(default=5_000, ge=0)
    currency: str = Field(default="CAD", min_length=3, max_length=3)
    # The language its issues are written in (en, fr, es): their greeting, footer and
    # labels, and the archive lists it under that language (app.i18n).
    language: str = Field(default="en", max_length=16, sa_column_kwargs={"server_default": "en"})


class Newsletter(NewsletterBase, table=True):
    __table_args__ = (sa.UniqueConstraint("slug"),)

    id: int | None = Field(default=None, primary_key=True)
    # Set on a member's own mailings newsletter (one per member): it is found by this id,
    # never by its slug, and it is not in the public archive.
    member_id: int | None = Field(default=None, foreign_key="member.id", unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class Issue(SQLModel, table=True):
    """One edition. Only drafts are editable; scheduling freezes the content."""

    __table_args__ = (sa.UniqueConstraint("newsletter_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    newsletter_id: int = Field(foreign_key="newsletter.id", index=True)
    number: int
    subject: str = Field(max_length=200)
    preheader: str = Field(default="", max_length=200)
    status: IssueStatus = Field(
        default=IssueStatus.draft, sa_type=enum_type(IssueStatus), index=True
    )
    scheduled_at: datetime | None = None
    timezone: str = Field(default="UTC", max_length=64)
    # The compiled email: HTML and plain text with Jinja placeholders for each recipient.
    compiled_html: str | None = None
    compiled_text: str | None = None
    frozen_at: datetime | None = None
    # Sending state, all in the database so any worker can resume it.
    send_started_at: datetime | None = None
    assembled_upto: int | None = None  # the last subscriber id assembled (keyset checkpoint)
    assembly_done: bool = False
    batches: int = 0
    failure_streak: int = 0  # messages refused in a row; too many pauses the issue
    paused_by: str | None = Field(default=None, max_length=20)  # admin, smtp, failures
    pause_reason: str | None = Field(default=None, max_length=300)
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class IssueBlock(SQLModel, table=True):
    __tablename__ = "issue_block"

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True, ondelete="CASCADE")
    position: int
    kind: BlockKind = Field(sa_type=enum_type(BlockKind))
    heading: str = Field(default="", max_length=200)
    body: str = Field(default="", max_length=20_000)
    url: str = Field(default="", max_length=1000)
    alt: str = Field(default="", max_length=300)
    label: str = Field(default="", max_length=120)
    required: bool = False
    # Removed in the editor: left out of the issue, kept so the removal can be undone. Its
    # position is never reused, so a slot at that position can only ever mean this block.
    removed_at: datetime | None = None
