"""What every HTML page shares: templates, rendering, CSRF, flash messages, redirects."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app import i18n, signing
from app.config import get_settings
from app.payments.money import format_major, format_money

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_DIR = TEMPLATES_DIR / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["club_name"] = "Co-op Data Club"
i18n.install(templates.env)


def count_of(n: int, one: str, many: str) -> str:
    """'1 person', '2 people', '1,200 people': a count with the right word."""
    return f"{n:,} {one if n == 1 else many}"


templates.env.filters["people"] = lambda n: i18n.ngettext(
    "%(num)s person", "%(num)s people", int(n)
)
# Below this, a count of a shared audience is shown as "fewer than N": an exact small
# number lets the member it is shared with single out individuals.
SMALL_AUDIENCE = 10


def _few(n: int) -> str | None:
    if int(n) >= SMALL_AUDIENCE:
        return None
    return i18n.ngettext("fewer than %(num)s", "fewer than %(num)s", SMALL_AUDIENCE)


templates.env.filters["shared_count"] = lambda n: _few(n) or templates.env.filters["number"](n)
templates.env.filters["shared_people"] = lambda n: (
    i18n.ngettext("fewer than %(num)s person", "fewer than %(num)s people", SMALL_AUDIENCE)
    if int(n) < SMALL_AUDIENCE
    else templates.env.filters["people"](n)
)
templates.env.filters["major"] = lambda amount: (
    format_major(amount) if isinstance(amount, int) else amount  # typed input: as typed
)
templates.env.filters["money"] = format_money


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("settings", get_settings())
    context.setdefault("flashes", take_flashes(request))
    context["csrf_token"] = csrf_token(request)
    with i18n.using(i18n.request_language(request)) as language:
        context["lang"] = language
        response = templates.TemplateResponse(
            request, name, context, status_code=status_code, headers=headers
        )
    response.headers["Content-Language"] = language
    vary = response.headers.get("Vary")
    response.headers["Vary"] = (
        f"{vary}, Accept-Language, Cookie" if vary else "Accept-Language, Cookie"
    )
    ensure_csrf_cookie(request, response)
    if getattr(request.state, "flash_taken", False):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


# CSRF --------------------------------------------------------------------------------
# Double submit: a random value in an HttpOnly, SameSite=Lax cookie, and the same value
# signed into each form. A cross-site page can neither read the cookie nor forge the
# signature, so a POST whose form token does not match its cookie is refused.

CSRF_COOKIE = "coopclub_csrf"
CSRF_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """The token to embed in a form; `ensure_csrf_cookie` sets the matching cookie."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_value", None)
    if value is None:
        value = request.state.csrf_value = secrets.token_urlsafe(24)
    return signing.sign(signing.Purpose.csrf, value)


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    value = getattr(request.state, "csrf_value", None)
    if value and request.cookies.get(CSRF_COOKIE) != value:
        response.set_cookie(
            CSRF_COOKIE,
            value,
            httponly=True,
            samesite="lax",
            secure=get_settings().https,
            path="/",
        )


async def require_csrf(request: Request) -> None:
    """Dependency for every state-changing HTML form (all but RFC 8058's /u/)."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    try:
        valid = (
            isinstance(token, str)
            and cookie is not None
            and signing.unsign(signing.Purpose.csrf, token) == cookie
        )
    except signing.InvalidToken:
        valid = False
    if not valid:
        raise HTTPException(
            status_code=403,
            detail=i18n.gettext(
                "This form expired or was not sent from our site. Reload the page and try again."
            ),
        )


CsrfProtected = Depends(require_csrf)


# Flash messages ------------------------------------------------------------------------
# One-shot messages carried across a redirect in a signed cookie.

FLASH_COOKIE = "coopclub_flash"


def flash(response: Response, text: str, kind: str = "success") -> None:
    response.set_cookie(
        FLASH_COOKIE,
        signing.sign(signing.Purpose.flash, [kind, text]),
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
        max_age=60,
        path="/",
    )


def take_flashes(request: Request) -> list[dict[str, str]]:
    token = request.cookies.get(FLASH_COOKIE)
    if not token:
        return []
    request.state.flash_taken = True
    try:
        kind, text = signing.unsign(signing.Purpose.flash, token, max_age=120)
    except (signing.InvalidToken, ValueError):
        return []
    return [{"kind": str(kind), "text": str(text)}]


def redirect(url: str, message: str | None = None, kind: str = "success") -> RedirectResponse:
    """303 to a path on this site (never to a URL taken from the request)."""
    if not url.startswith("/") or url.startswith("//"):
        raise ValueError("redirects go to local paths only")
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, message, kind)
    return response
