"""Every domain's tables, imported in one place so the metadata (and Alembic) see all."""

from app.auth.models import AccountSession, ApiKey, LoginNonce
from app.mailing.models import TransactionalEmail
from app.members.models import Account, Member

__all__ = [
    "Account",
    "AccountSession",
    "ApiKey",
    "LoginNonce",
    "Member",
    "TransactionalEmail",
]
