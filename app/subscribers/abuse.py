"""Keeping robots and floods off the signup forms: a honeypot field, a signed form
timestamp (forged, missing or a day old is dropped quietly; too fast is asked again,
since a person whose browser filled the form in is that fast too), and rate limits per
client address and per email address (Redis when configured, in-process otherwise)."""

from __future__ import annotations

import time

from fastapi import HTTPException, Request

from app import ratelimit, signing
from app.config import get_settings
from app.subscribers.service import address_hmac

HONEYPOT_FIELD = "website"  # humans never see it; form-filling robots fill it in
TIMESTAMP_FIELD = "form_ts"
MIN_FORM_SECONDS = 2
MAX_FORM_SECONDS = 24 * 3600
MAX_BODY_BYTES = 16 * 1024

CLIENT_WINDOW = 600  # seconds; the limits themselves are settings (0: off)
ADDRESS_WINDOW = 3600


def form_timestamp() -> str:
    return signing.sign(signing.Purpose.form_time, int(time.time()))


def looks_automated(form: dict[str, str], *, require_timestamp: bool) -> bool:
    """True for a filled honeypot, or a form timestamp that is missing (when required),
    forged, or a day old."""
    if form.get(HONEYPOT_FIELD):
        return True
    token = form.get(TIMESTAMP_FIELD)
    if not token:
        return require_timestamp
    return _issued(token) is None


def too_fast(form: dict[str, str]) -> bool:
    """Sent sooner after the form was served than a person types: a robot, or a person
    whose browser filled the form in. The form asks again rather than dropping it."""
    issued = _issued(form.get(TIMESTAMP_FIELD) or "")
    return issued is not None and time.time() - issued < MIN_FORM_SECONDS


def _issued(token: str) -> int | None:
    try:
        issued = signing.unsign(signing.Purpose.form_time, token, max_age=MAX_FORM_SECONDS)
    except signing.InvalidToken:
        return None
    return issued if isinstance(issued, int) else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def within_limits(scope: str, request: Request, email: str | None) -> bool:
    """Count one attempt per client and per address; False once either is over."""
    settings = get_settings()
    ok = True
    if settings.signup_limit_per_client:
        ok = ratelimit.hit(
            f"{scope}-client",
            client_address(request),
            limit=settings.signup_limit_per_client,
            window_seconds=CLIENT_WINDOW,
        )
    if email and settings.signup_limit_per_address:
        ok = (
            # Keyed by the HMAC: no address is written to Redis.
            ratelimit.hit(
                f"{scope}-address",
                address_hmac(email.lower()),
                limit=settings.signup_limit_per_address,
                window_seconds=ADDRESS_WINDOW,
            )
            and ok
        )
    return ok


async def limited_body(request: Request) -> bytes:
    """The request body, refused with 413 past MAX_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, detail="That request is too large (at most 16 KB).")
    try:
        body = await request.body()
    except RuntimeError:  # a dependency (CSRF) already parsed the form; the header counted
        return b""
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, detail="That request is too large (at most 16 KB).")
    return body
