"""Every domain's tables, imported in one place so the metadata (and Alembic) see all."""

from app.auth.models import AccountSession, ApiKey, LoginNonce
from app.consent.models import (
    ConsentCheckpoint,
    ConsentEvent,
    ConsentLogEntry,
    ConsentLogNode,
    ConsentText,
)
from app.intake import IntakeRequest
from app.mailing.models import TransactionalEmail
from app.marketplace.models import Booking, ClickCount, Creative, Slot
from app.members.history import DirectoryChange
from app.members.models import Account, Invitation, Member
from app.members.suggestions import ListingSuggestion
from app.newsletters.models import Issue, IssueBlock, Newsletter, NewsletterTopic
from app.payments.models import CreditEntry, StripeEvent
from app.recruiting.models import RecruitCredit, RecruitingRate
from app.sending.models import BounceReport, Delivery
from app.sharing.models import (
    MemberMailing,
    SharingAgreement,
    SharingAgreementEvent,
    SharingWithdrawal,
)
from app.subscribers.models import (
    ConfirmationLink,
    ExportJob,
    ImportJob,
    LedgerRollup,
    Subscriber,
    Subscription,
    Suppression,
    Topic,
    TopicDay,
)

__all__ = [
    "Account",
    "AccountSession",
    "ApiKey",
    "Booking",
    "BounceReport",
    "ClickCount",
    "ConfirmationLink",
    "ConsentCheckpoint",
    "ConsentEvent",
    "ConsentLogEntry",
    "ConsentLogNode",
    "ConsentText",
    "Creative",
    "CreditEntry",
    "Delivery",
    "DirectoryChange",
    "ExportJob",
    "ImportJob",
    "IntakeRequest",
    "Issue",
    "Invitation",
    "IssueBlock",
    "LedgerRollup",
    "ListingSuggestion",
    "LoginNonce",
    "Member",
    "MemberMailing",
    "Newsletter",
    "NewsletterTopic",
    "RecruitCredit",
    "RecruitingRate",
    "SharingAgreement",
    "SharingAgreementEvent",
    "SharingWithdrawal",
    "Slot",
    "StripeEvent",
    "Subscriber",
    "Subscription",
    "Suppression",
    "Topic",
    "TopicDay",
    "TransactionalEmail",
]
