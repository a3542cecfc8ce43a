"""Signed tokens (itsdangerous): one serializer per purpose, keys rotated newest-last.

A token of one purpose never verifies as another (each purpose is its own salt).
Payloads are signed, not secret: put opaque ids in them, never addresses. Where a
token must work only once, keep server-side state (a nonce) beside it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.config import get_settings


class Purpose(StrEnum):
    confirm = "confirm-subscription"
    preferences = "preferences"
    unsubscribe = "unsubscribe"
    login = "login-link"
    session = "session"
    csrf = "csrf"
    form_time = "form-timestamp"
    receipt = "consent-receipt"
    verp = "verp-return-path"
    redirect = "click-redirect"
    flash = "flash"
    embed_form = "embed-form"  # a member's signup form: its member and topics


class InvalidToken(Exception):
    """The token is tampered with, of another purpose, or malformed."""


class ExpiredToken(InvalidToken):
    """The token was genuine but is older than its purpose allows."""


def serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and verifies with all of them.
    return URLSafeTimedSerializer(get_settings().secret_keys, salt=f"coopclub.{purpose.value}")


def sign(purpose: Purpose, payload: Any) -> str:
    return serializer(purpose).dumps(payload)


def unsign(purpose: Purpose, token: str, *, max_age: int | None = None) -> Any:
    try:
        return serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ExpiredToken("this link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("this link is not valid") from exc
