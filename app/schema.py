"""Every domain's tables, imported in one place so the metadata (and Alembic) see all."""

from app.auth.models import AccountSession, ApiKey, LoginNonce
from app.mailing.models import TransactionalEmail
from app.members.models import Account, Member
from app.newsletters.models import Issue, IssueBlock, Newsletter, NewsletterTopic
from app.sending.models import BounceReport, Delivery

__all__ = [
    "Account",
    "AccountSession",
    "ApiKey",
    "BounceReport",
    "Delivery",
    "Issue",
    "IssueBlock",
    "LoginNonce",
    "Member",
    "Newsletter",
    "NewsletterTopic",
    "TransactionalEmail",
]
