"""The languages the Club speaks (English, French, Spanish), which one a page or an
email uses, and the gettext functions every template and message goes through.

Catalogs live in translations/<lang>/LC_MESSAGES/messages.po and are compiled to .mo by
`make` (`pybabel compile`). The language of a request, best first: the reader's explicit
choice (the switcher, kept in a cookie), the subscriber's saved language on pages reached
from their emails, the browser's Accept-Language, then COOPCLUB_DEFAULT_LANGUAGE. The
language in force is a context variable, so one set of gettext functions serves pages,
emails and workers alike (`using(lang)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_skeleton as _format_skeleton
from babel.numbers import format_currency as _format_currency
from babel.numbers import format_decimal as _format_decimal
from babel.support import LazyProxy, NullTranslations, Translations
from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import get_settings

TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "translations"
DOMAIN = "messages"

# Each language's name in itself: the switcher shows them this way.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "es": "Español"}
SUPPORTED = tuple(LANGUAGES)
LANGUAGE_COOKIE = "coopclub_lang"
# A pseudo-locale for finding words nobody wrapped for translation: every translated
# message shows in ⟦ ⟧, so what is left bare is not translated. Chosen only by the
# cookie, and never in production (tests/i18n/test_pseudo_locale.py).
PSEUDO = "qps"

_current: ContextVar[str | None] = ContextVar("language", default=None)


class UnknownLanguage(ValueError):
    """A language tag that is not BCP 47, or a language the Club does not speak."""


def default_language() -> str:
    return get_settings().default_language


def current() -> str:
    """The language in force: set by `using`, else the Club's default."""
    return _current.get() or default_language()


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Render everything inside in `language` (None: the Club's default)."""
    chosen = language if language in LANGUAGES or _is_pseudo(language) else default_language()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def _is_pseudo(language: str | None) -> bool:
    return language == PSEUDO and get_settings().env != "production"


class _PseudoTranslations(NullTranslations):
    def gettext(self, message: str) -> str:
        return f"⟦{message}⟧"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"⟦{singular if n == 1 else plural}⟧"


@lru_cache(maxsize=len(SUPPORTED) + 1)
def translations(language: str) -> NullTranslations:
    if language == "en":  # the msgids are the English words
        return NullTranslations()
    if language == PSEUDO:
        return _PseudoTranslations()
    found = Translations.load(str(TRANSLATIONS_DIR), [language], domain=DOMAIN)
    if not isinstance(found, Translations):
        raise RuntimeError(
            f"no compiled catalog for {language!r} in {TRANSLATIONS_DIR}: run `make install`"
            " (pybabel compile -d translations)"
        )
    return found


def gettext(message: str, **variables: Any) -> str:
    text = translations(current()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    """The plural form for `n` in the language in force (French: 0 and 1 are singular).
    `%(num)s` is `n` written the local way."""
    text = translations(current()).ngettext(singular, plural, n)
    return text % {"num": format_number(n), **variables}


def lazy_gettext(message: str, **variables: Any) -> LazyProxy:
    """A message translated when it is shown, in the language in force then."""
    return LazyProxy(gettext, message, enable_cache=False, **variables)


_ = gettext


def _raw_gettext(message: str) -> str:  # Jinja's newstyle gettext fills the variables
    return translations(current()).gettext(message)


def _raw_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


# Choosing the language ---------------------------------------------------------------


def normalise(tag: str | None) -> str | None:
    """A supported language for a BCP 47 tag ("fr-CA" -> "fr"), or None."""
    if not tag:
        return None
    found = negotiate_locale([tag.strip()], SUPPORTED, sep="-")
    return found.lower() if found else None  # Babel answers in the tag's own case


def parse_language(tag: str) -> str:
    """Validate a language given through the API or a form: a well-formed BCP 47 tag for
    a language the Club speaks. Raises UnknownLanguage with a message for a person."""
    try:
        Locale.parse(tag.strip(), sep="-")
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise UnknownLanguage(
            f"{tag!r} is not a language tag we know (BCP 47, such as en, fr or es-MX)"
        ) from exc
    language = normalise(tag)
    if language is None:
        raise UnknownLanguage(
            f"we do not write in {tag!r} yet; choose one of: " + ", ".join(SUPPORTED)
        )
    return language


def accept_language(header: str | None) -> str | None:
    """The best supported language for an Accept-Language header (RFC 9110 weights)."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, position, tag.strip()))
    preferred = [tag for _w, _p, tag in sorted(weighted)]
    found = negotiate_locale(preferred, SUPPORTED, sep="-") if preferred else None
    return found.lower() if found else None


def request_language(request: Request) -> str:
    """The language for this request (see the module's docstring), remembered on it.
    A page reached from a subscriber's email sets `request.state.subscriber_language`
    before it renders."""
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if _is_pseudo(cookie):
        return PSEUDO
    chosen = normalise(cookie)
    if chosen is None:
        chosen = normalise(getattr(request.state, "subscriber_language", None))
    if chosen is None:
        chosen = accept_language(request.headers.get("accept-language"))
    return chosen or default_language()


def adopt_language(request: Request, language: str) -> None:
    """A page reached from a subscriber's email speaks their language, and a member's
    embedded form the language its snippet names (`lang=`), unless the reader chose one
    with the switcher: for its render, and for what the handler words and records from
    now on (the consent texts it shows are in that language)."""
    request.state.subscriber_language = language
    _current.set(request_language(request))  # this request's own context: no reset


class RequestLanguage:
    """ASGI middleware: the request's language (the reader's choice, else Accept-Language,
    else the default) is in force while the request is handled, so messages made by a
    handler (an error's detail, a form's problems) are in the language of the page.
    Pages that know the subscriber re-decide when they render (`request_language`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with using(request_language(Request(scope))):
            await self.app(scope, receive, send)


# Formatting --------------------------------------------------------------------------


def _formatting_locale() -> str:
    language = current()
    return "en" if language == PSEUDO else language


def _localised(text: str) -> str:
    """Words Babel chose for the locale (a month's name): bracketed under the
    pseudo-locale like translated messages, so they are not taken for unwrapped text."""
    return f"⟦{text}⟧" if current() == PSEUDO else text


def format_number(n: int | float) -> str:
    return _format_decimal(n, locale=_formatting_locale())


def format_money(minor: int, currency: str) -> str:
    """An amount in minor units (cents) the local way: $1,250.00, 1 250,00 $, …"""
    return _format_currency(minor / 100, currency.upper(), locale=_formatting_locale())


def format_date(moment: datetime | Any, form: str = "long") -> str:
    return _localised(_format_date(moment, format=form, locale=_formatting_locale()))


def format_datetime(moment: datetime, form: str = "medium", tz: str | None = None) -> str:
    return _format_datetime(moment, format=form, tzinfo=tz, locale=_formatting_locale())


def format_when(moment: datetime) -> str:
    """A moment on staff pages, to the minute, in UTC: "Nov 30, 2026 17:05",
    "30 nov. 2026 17:05"."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    locale = _formatting_locale()
    day = _format_date(moment, format="medium", locale=locale)
    return _localised(f"{day} {_format_skeleton('Hm', moment, tzinfo=UTC, locale=locale)}")


def install(env: Any) -> None:
    """Give a Jinja environment the i18n extension, our gettext functions (newstyle: the
    translation is escaped, `%(name)s` filled from keyword arguments) and the filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_raw_gettext, _raw_ngettext, newstyle=True)
    env.globals["current_language"] = current
    env.globals["languages"] = LANGUAGES
    env.filters["number"] = format_number
    env.filters["date_local"] = format_date
    env.filters["datetime_local"] = format_datetime
    env.filters["when"] = format_when


# The switcher ------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


@router.get("/language/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> RedirectResponse:
    """The switcher on every public page: remember the reader's choice for a year and go
    back to the page they were on (a path on this site, never a URL from elsewhere)."""
    language = normalise(code)
    if language is None or code != language:
        raise HTTPException(404, detail=gettext("We do not write in that language yet."))
    from app.auth.service import safe_next  # (the one check of a local path)

    response = RedirectResponse(safe_next(next) or "/", status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        samesite="lax",
        secure=get_settings().https,
        path="/",
    )
    return response
