"""SharingAgreements with their history, per-member sharing withdrawals, and member
mailings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import enum_type, utcnow


class AgreementStatus(StrEnum):
    offered = "offered"  # waiting for the receiving member
    active = "active"  # accepted and within its term
    revoked = "revoked"  # ended by either side
    # An agreement past its end date is expired whatever its stored status (see service).


class PurposeCategory(StrEnum):
    offers = "offers"  # offers of the receiver's products or services
    events = "events"  # events and meetings
    campaigns = "campaigns"  # co-operative campaigns and petitions
    news = "news"  # the receiver's news


class SharingAgreement(SQLModel, table=True):
    """Member A offers a topic's audience (or the people it recruited) to member B."""

    __tablename__ = "sharing_agreement"

    id: int | None = Field(default=None, primary_key=True)
    offering_member_id: int = Field(foreign_key="member.id", index=True)
    receiving_member_id: int = Field(foreign_key="member.id", index=True)
    # None: "the people I recruited" (subscribers whose source is the offering member).
    topic_id: int | None = Field(default=None, foreign_key="topic.id")
    purpose_category: PurposeCategory = Field(sa_type=enum_type(PurposeCategory))
    purpose: str = Field(max_length=300)
    ends_at: datetime
    status: AgreementStatus = Field(
        default=AgreementStatus.offered, sa_type=enum_type(AgreementStatus)
    )
    created_at: datetime = Field(default_factory=utcnow)
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None


class SharingAgreementEvent(SQLModel, table=True):
    """One step of an agreement's history (offered, accepted, revoked); never edited."""

    __tablename__ = "sharing_agreement_event"

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="sharing_agreement.id", index=True)
    action: str = Field(max_length=20)
    member_id: int = Field(foreign_key="member.id")  # the side that acted
    account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    occurred_at: datetime = Field(default_factory=utcnow)


class SharingWithdrawal(SQLModel, table=True):
    """A person withdrew sharing for one member; the ledger holds the event, this row
    is the state assembly reads (deleted with the person on erasure)."""

    __tablename__ = "sharing_withdrawal"
    __table_args__ = (sa.UniqueConstraint("subscriber_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", ondelete="CASCADE")
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class MailingStatus(StrEnum):
    draft = "draft"  # the member is composing it
    submitted = "submitted"  # waiting for an admin
    approved = "approved"  # an admin scheduled it; the send pipeline takes it from here
    rejected = "rejected"  # an admin said no (with a note); back to the member to edit


class MemberMailing(SQLModel, table=True):
    """A member's own mailing to its subscribers plus its shared audiences. Its content
    is an Issue of the member's mailings newsletter, so the send pipeline sends it."""

    __tablename__ = "member_mailing"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    issue_id: int = Field(foreign_key="issue.id", unique=True)
    status: MailingStatus = Field(default=MailingStatus.draft, sa_type=enum_type(MailingStatus))
    review_note: str = Field(default="", max_length=500)
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
