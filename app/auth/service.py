"""Logging in and proving who you are: login links, sessions, and member API keys.

A login link is a signed token (its own purpose, 15 minutes) carrying an account id
and a nonce; the nonce's hash is stored and marked used on first use, so the link
works once. A session is a random token whose hash is stored; the browser holds it in
a signed cookie. An API key is shown once and stored only as its hash and a prefix.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import update
from sqlmodel import Session, col, delete, select

from app import i18n, intake, signing
from app.auth.models import AccountSession, ApiKey, LoginNonce
from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.jobs import register_sweep
from app.mailing.service import queue_transactional
from app.members.models import Account, Member, MemberStatus

LOGIN_LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=14)
API_KEY_PREFIX = "ccm_"
# Writing last_used_at on every request would make each API call a write; a minute is
# precise enough for "is this key still in use?".
LAST_USED_PRECISION = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def safe_next(path: str | None) -> str | None:
    """A place to go after login: only a local path, never another site."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return None


# Login links -------------------------------------------------------------------------------


class LoginLinkError(Exception):
    """The link is unknown, expired, or already used; the message says which."""


def issue_login_link(session: Session, *, account: Account, next_path: str | None = None) -> str:
    nonce = secrets.token_urlsafe(24)
    session.add(
        LoginNonce(
            account_id=account.id,  # type: ignore[arg-type]
            nonce_hash=digest(nonce),
            expires_at=utcnow() + LOGIN_LINK_LIFETIME,
        )
    )
    session.flush()
    payload = {"a": account.id, "n": nonce}
    if safe_next(next_path):
        payload["next"] = next_path
    token = signing.sign(signing.Purpose.login, payload)
    return f"{get_settings().base_url}/login/link?token={quote(token)}"


def accept_login_request(session: Session, *, email: str, next_path: str | None = None) -> None:
    """A login request: recorded the same way for every address (app.intake); the job
    mails a link only if an active account has it, so neither the answer nor its timing
    tells anyone which addresses have accounts."""
    intake.accept(
        session,
        "login",
        # The link is mailed in the language of the page that asked for it.
        {"email": email, "next": safe_next(next_path), "language": i18n.current()},
    )


@intake.register_handler("login")
def _do_login_request(session: Session, payload: dict[str, Any]) -> None:
    send_login_link(
        session,
        email=payload["email"],
        next_path=payload["next"],
        language=payload.get("language"),
    )


def send_login_link(
    session: Session, *, email: str, next_path: str | None = None, language: str | None = None
) -> bool:
    """Mail a login link if an active account has this address. The caller answers the
    same way either way, so no one can learn which addresses have accounts."""
    account = session.exec(select(Account).where(Account.email == email.lower())).first()
    if account is None or not account.active:
        return False
    link = issue_login_link(session, account=account, next_path=next_path)
    queue_transactional(
        session,
        kind="login-link",
        to=account.email,
        subject=i18n.lazy_gettext("Your Co-op Data Club login link"),
        template="login_link",
        language=language,
        link=link,
        minutes=int(LOGIN_LINK_LIFETIME.total_seconds() // 60),
    )
    return True


@dataclass(frozen=True)
class LoginLink:
    account: Account
    nonce: str
    next_path: str | None


def read_login_link(session: Session, *, token: str) -> LoginLink:
    """Check a link without using it up (link scanners fetch links before people do)."""
    max_age = int(LOGIN_LINK_LIFETIME.total_seconds())
    try:
        payload = signing.unsign(signing.Purpose.login, token, max_age=max_age)
        account_id, nonce = int(payload["a"]), str(payload["n"])
    except signing.ExpiredToken:
        raise LoginLinkError(_("This login link has expired. Ask for a new one below.")) from None
    except (signing.InvalidToken, KeyError, TypeError, ValueError):
        raise LoginLinkError(_("This login link is not valid. Ask for a new one below.")) from None
    row = session.exec(select(LoginNonce).where(LoginNonce.nonce_hash == digest(nonce))).first()
    account = session.get(Account, account_id)
    if row is None or account is None or row.account_id != account.id or not account.active:
        raise LoginLinkError(_("This login link is not valid. Ask for a new one below."))
    if row.used_at is not None:
        raise LoginLinkError(_("This login link was already used. Ask for a new one below."))
    if row.expires_at <= utcnow():
        raise LoginLinkError(_("This login link has expired. Ask for a new one below."))
    return LoginLink(account=account, nonce=nonce, next_path=safe_next(payload.get("next")))


def use_login_link(session: Session, *, token: str) -> tuple[Account, str, str | None]:
    """Spend the link and start a session: (account, session token, next path)."""
    link = read_login_link(session, token=token)
    now = utcnow()
    # One conditional UPDATE: of two concurrent uses, exactly one sees rowcount 1.
    spent = session.execute(
        update(LoginNonce)
        .where(
            col(LoginNonce.nonce_hash) == digest(link.nonce),
            col(LoginNonce.used_at).is_(None),
            col(LoginNonce.expires_at) > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LoginLinkError(_("This login link was already used. Ask for a new one below."))
    link.account.last_login_at = now
    session.add(link.account)
    return link.account, start_session(session, account=link.account), link.next_path


# Sessions ----------------------------------------------------------------------------------


def start_session(session: Session, *, account: Account) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        AccountSession(
            account_id=account.id,  # type: ignore[arg-type]
            token_hash=digest(token),
            expires_at=utcnow() + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token


def session_account(session: Session, *, token: str) -> Account | None:
    row = session.exec(
        select(AccountSession).where(AccountSession.token_hash == digest(token))
    ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        return None
    return account


def end_session(session: Session, *, token: str) -> None:
    session.exec(delete(AccountSession).where(col(AccountSession.token_hash) == digest(token)))  # type: ignore[call-overload]


def end_all_sessions(session: Session, *, account_id: int) -> None:
    session.exec(delete(AccountSession).where(col(AccountSession.account_id) == account_id))  # type: ignore[call-overload]


# API keys ----------------------------------------------------------------------------------


def create_api_key(
    session: Session, *, member: Member, name: str, created_by: Account | None
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is returned this once and never stored."""
    public_part = secrets.token_urlsafe(6)[:8]
    secret = f"{API_KEY_PREFIX}{public_part}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        member_id=member.id,  # type: ignore[arg-type]
        name=name.strip(),
        prefix=f"{API_KEY_PREFIX}{public_part}",
        secret_hash=digest(secret),
        created_by_id=created_by.id if created_by else None,
    )
    session.add(key)
    session.flush()
    return key, secret


def member_keys(session: Session, *, member_id: int) -> Sequence[ApiKey]:
    return session.exec(
        select(ApiKey)
        .where(ApiKey.member_id == member_id)
        .order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.created_at).desc())
    ).all()


def member_key(session: Session, *, member_id: int, key_id: int) -> ApiKey | None:
    """One of this member's keys; None for anyone else's (callers answer 404)."""
    key = session.get(ApiKey, key_id)
    return key if key is not None and key.member_id == member_id else None


def revoke_api_key(session: Session, *, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
    return key


class ApiKeyRefused(Exception):
    """The key cannot be used; the message is the reason, for the API's 401."""


def authenticate_api_key(session: Session, *, secret: str) -> tuple[ApiKey, Member]:
    key = session.exec(select(ApiKey).where(ApiKey.secret_hash == digest(secret))).first()
    if key is None:
        raise ApiKeyRefused(i18n.gettext("This API key is not valid."))
    if key.revoked_at is not None:
        raise ApiKeyRefused(
            i18n.gettext(
                "This API key (%(prefix)s) was revoked on %(date)s.",
                prefix=key.prefix,
                date=i18n.format_date(key.revoked_at, "medium"),
            )
        )
    member = session.get(Member, key.member_id)
    if member is None or member.status == MemberStatus.suspended:
        raise ApiKeyRefused(
            i18n.gettext(
                "This API key belongs to a co-op whose membership is suspended;"
                " its keys work again once the Club reactivates it."
            )
        )
    if member.status != MemberStatus.active:
        raise ApiKeyRefused(
            i18n.gettext("This API key belongs to a co-op whose application is not yet approved.")
        )
    now = utcnow()
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_PRECISION:
        key.last_used_at = now
        session.add(key)
    return key, member


# Housekeeping ------------------------------------------------------------------------------


@register_sweep("auth-expired")
def sweep_expired(session: Session) -> None:
    """Forget expired sessions and login links (a used link is kept until it expires, so
    it still reads as "already used" rather than "not valid")."""
    now = utcnow()
    session.exec(delete(AccountSession).where(col(AccountSession.expires_at) < now))  # type: ignore[call-overload]
    session.exec(delete(LoginNonce).where(col(LoginNonce.expires_at) < now - timedelta(days=1)))  # type: ignore[call-overload]
