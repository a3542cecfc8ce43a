"""Every domain's tables, imported in one place so the metadata (and Alembic) see all."""

from app.auth.models import AccountSession, ApiKey, LoginNonce
from app.consent.models import ConsentEvent, ConsentText
from app.mailing.models import TransactionalEmail
from app.members.models import Account, Member
from app.subscribers.models import Subscriber, Subscription, Suppression, Topic

__all__ = [
    "Account",
    "AccountSession",
    "ApiKey",
    "ConsentEvent",
    "ConsentText",
    "LoginNonce",
    "Member",
    "Subscriber",
    "Subscription",
    "Suppression",
    "Topic",
    "TransactionalEmail",
]
