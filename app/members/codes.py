"""The directory's code lists: kinds of co-op and sectors (ours, fixed and documented in
/members/codes), countries and regions (ISO 3166-1 alpha-2 and ISO 3166-2, from
pycountry), and languages (BCP 47 tags whose subtags ISO 639, 15924 and 3166 know).

Codes are what is stored and what the API and exports carry; labels are for people, in
their language (`kind_name`, `sector_name`). KINDS and SECTORS keep the English names
(the exports' and JSON-LD's stable words); the names are marked for the catalogs with
`N_` and translated where they are shown.
"""

from __future__ import annotations

import gettext
import re
from functools import cache

import pycountry
from babel import Locale, UnknownLocaleError

from app.i18n import current
from app.i18n import gettext as _


def N_(message: str) -> str:
    """Marks a message for the catalogs (`pybabel extract`); translated when shown."""
    return message


# Kinds of co-op. A code never changes meaning; a new kind gets a new code.
KINDS: dict[str, str] = {
    "worker": N_("Worker co-op"),
    "consumer": N_("Consumer co-op"),
    "producer": N_("Producer co-op"),
    "housing": N_("Housing co-op"),
    "multi-stakeholder": N_("Multi-stakeholder co-op"),
    "credit-union": N_("Credit union"),
    "platform": N_("Platform co-op"),
    "federation": N_("Federation or support organisation"),
    "other": N_("Other"),
}

SECTORS: dict[str, str] = {
    "agriculture": N_("Agriculture and fishing"),
    "food": N_("Food and groceries"),
    "retail": N_("Retail"),
    "housing": N_("Housing"),
    "energy": N_("Energy"),
    "utilities": N_("Water and utilities"),
    "finance": N_("Banking, credit and insurance"),
    "health": N_("Health and care"),
    "education": N_("Education and childcare"),
    "technology": N_("Technology and data"),
    "media": N_("Media, arts and culture"),
    "manufacturing": N_("Manufacturing and crafts"),
    "transport": N_("Transport and delivery"),
    "hospitality": N_("Tourism and hospitality"),
    "professional": N_("Professional and business services"),
    "other": N_("Other"),
}


def kind_name(code: str | None) -> str:
    """A kind of co-op as the reader says it; an unknown code as it is."""
    return _(KINDS[code]) if code in KINDS else (code or "")


def sector_name(code: str | None) -> str:
    """A sector as the reader says it; an unknown code as it is."""
    return _(SECTORS[code]) if code in SECTORS else (code or "")


def kind_names() -> dict[str, str]:
    """Every kind, code -> name in the reader's language, in the list's order."""
    return {code: kind_name(code) for code in KINDS}


def sector_names() -> dict[str, str]:
    """Every sector, code -> name in the reader's language, in the list's order."""
    return {code: sector_name(code) for code in SECTORS}


MAX_SECTORS = 5
MAX_LANGUAGES = 10


@cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English short name, sorted by name."""
    pairs = sorted(
        ((c.alpha_2, getattr(c, "common_name", None) or c.name) for c in pycountry.countries),
        key=lambda pair: pair[1],
    )
    return dict(pairs)


@cache
def regions(country: str) -> dict[str, str]:
    """ISO 3166-2 code -> name, for one country's subdivisions, sorted by name."""
    found = pycountry.subdivisions.get(country_code=country) or []
    return dict(sorted(((s.code, s.name) for s in found), key=lambda pair: pair[1]))


def country_name(code: str | None) -> str | None:
    return countries().get(code) if code else None


def _reader_locale() -> Locale | None:
    """The reader's locale when names should come from Babel's (CLDR) lists: French or
    Spanish. English keeps pycountry's names, the ones search and exports use."""
    language = current()
    return Locale.parse(language) if language in ("fr", "es") else None


def country_label(code: str | None) -> str:
    """A country's name in the reader's language (Allemagne, Alemania), for pages."""
    locale = _reader_locale()
    found = locale.territories.get(code) if locale is not None and code else None
    return found or country_name(code) or (code or "")


def country_labels() -> dict[str, str]:
    """Every country, code -> name in the reader's language, in that language's order."""
    return dict(
        sorted(((code, country_label(code)) for code in countries()), key=lambda p: fold(p[1]))
    )


@cache
def _subdivision_names(language: str) -> gettext.NullTranslations:
    """pycountry's own translations of ISO 3166-2 names (Quebec -> Québec)."""
    return gettext.translation(
        "iso3166-2", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def region_label(code: str | None) -> str:
    """A region's name in the reader's language where pycountry has it, for pages."""
    name = region_name(code)
    language = current()
    if name and language in ("fr", "es"):
        return _subdivision_names(language).gettext(name)
    return name or (code or "")


def language_label(tag: str) -> str:
    """A language tag in the reader's language (français (Canada)), for pages."""
    locale = _reader_locale()
    if locale is not None:
        try:
            found = Locale.parse(tag, sep="-").get_display_name(locale)
        except (UnknownLocaleError, ValueError):
            found = None
        if found:
            return found
    return language_name(tag)


def region_name(code: str | None) -> str | None:
    if not code:
        return None
    return regions(code.split("-", 1)[0]).get(code)


def parse_country(value: str) -> str:
    """A country by its alpha-2 code or its English name; raises ValueError."""
    text = value.strip()
    if text.upper() in countries():
        return text.upper()
    for code, name in countries().items():
        if name.casefold() == text.casefold():
            return code
    raise ValueError(_("choose a country from the list (or its two-letter ISO 3166 code)"))


def parse_region(value: str, country: str | None) -> str:
    """A region of `country` by its ISO 3166-2 code (CA-QC) or its name (Quebec); with
    no country, a full code, or a name only one country's region has."""
    text = value.strip()
    if not country:
        found = pycountry.subdivisions.get(code=text.upper())
        if found is not None:
            return found.code
        named = [s.code for s in pycountry.subdivisions if fold(s.name) == fold(text)]
        if len(named) == 1:
            return named[0]
        raise ValueError(
            _("choose the country too, or give the region's ISO 3166-2 code, e.g. CA-QC")
        )
    known = regions(country)
    if text.upper() in known:
        return text.upper()
    folded = fold(text)
    for code, name in known.items():
        if fold(name) == folded or code.split("-", 1)[1] == text.upper():
            return code
    raise ValueError(
        _(
            "this is not a region of %(country)s; use its name or ISO 3166-2 code, e.g. "
            "%(example)s",
            country=country_name(country),
            example=next(iter(known)),
        )
        if known
        else _(
            "%(country)s has no ISO 3166-2 regions; leave this empty",
            country=country_name(country),
        )
    )


def fold(text: str) -> str:
    """Text compared without case or accents (Équateur sorts with the Es)."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# BCP 47: language[-script][-region][-variant...]. Extensions and private use are
# not accepted: a directory says which languages a co-op speaks, nothing finer.
_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3})(?:-(?P<script>[a-z]{4}))?(?:-(?P<region>[a-z]{2}|\d{3}))?"
    r"(?P<variants>(?:-(?:[a-z0-9]{5,8}|\d[a-z0-9]{3}))*)$",
    re.IGNORECASE,
)


def parse_language(value: str) -> str:
    """One BCP 47 tag in its canonical case (fr-CA, zh-Hant-TW); raises ValueError."""
    match = _TAG.match(value.strip())
    if not match:
        raise ValueError(
            _("“%(tag)s” is not a language tag like en, fr-CA or pt-BR", tag=value.strip())
        )
    language = match["language"].lower()
    found = (
        pycountry.languages.get(alpha_2=language)
        if len(language) == 2
        else pycountry.languages.get(alpha_3=language)
    )
    if found is None:
        raise ValueError(_("“%(code)s” is not an ISO 639 language code", code=language))
    tag = language
    if match["script"]:
        script = match["script"].title()
        if pycountry.scripts.get(alpha_4=script) is None:
            raise ValueError(_("“%(code)s” is not an ISO 15924 script code", code=script))
        tag += "-" + script
    if match["region"]:
        region = match["region"].upper()
        if not region.isdigit() and region not in countries():
            raise ValueError(_("“%(code)s” is not an ISO 3166 country code", code=region))
        tag += "-" + region
    return tag + match["variants"].lower()


def language_name(tag: str) -> str:
    language = tag.split("-", 1)[0]
    found = (
        pycountry.languages.get(alpha_2=language)
        if len(language) == 2
        else pycountry.languages.get(alpha_3=language)
    )
    name = found.name if found is not None else tag
    rest = tag.split("-")[1:]
    region = next((part for part in rest if len(part) == 2 and part.isupper()), None)
    return f"{name} ({country_name(region)})" if region and country_name(region) else name


def split_list(value: str) -> list[str]:
    """What a person typed as a list: commas, semicolons or spaces between items."""
    return [part for part in re.split(r"[,;\s]+", value) if part]
