"""Server-side state behind logging in: login-link nonces, sessions, and API keys.

Secrets never rest in the database: a session token, a login nonce and an API key are
each stored as their SHA-256, so a copy of the database lets no one in.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import utcnow


class LoginNonce(SQLModel, table=True):
    """One emailed login link; `used_at` makes it work once."""

    __tablename__ = "login_nonce"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    nonce_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None


class AccountSession(SQLModel, table=True):
    """A logged-in browser; the signed `coopclub_session` cookie carries its token."""

    __tablename__ = "account_session"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class ApiKeyBase(SQLModel):
    name: str = Field(min_length=1, max_length=80)


class ApiKey(ApiKeyBase, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    prefix: str = Field(max_length=20)  # shown in lists so people can tell keys apart
    secret_hash: str = Field(max_length=64, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class ApiKeyPublic(ApiKeyBase):
    id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
