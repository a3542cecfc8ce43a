"""Money: integers of minor units (cents) everywhere it is stored or computed, written
and typed by people in major units ("250.00").

One rule for every form a person types a price into: digits, optionally thousands
separated by commas, optionally a point and one or two decimals ("250", "1,250.5",
"0.29"). More decimals ("0.285") are refused rather than rounded, because a price a
person did not type is a price they did not agree to. Prices are bounded by the
COOPCLUB_MAX_PRICE setting (in minor units). Prices are in currencies with cents.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency

from app.config import get_settings
from app.i18n import current
from app.i18n import gettext as _

_MAJOR = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$")
_TOO_PRECISE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{3,}$")


class MoneyError(ValueError):
    """A typed price we cannot take; the message says why, for the person who typed it."""


def parse_price(typed: str) -> int:
    """A price typed in major units as minor units: "250.00" -> 25000, "0.29" -> 29."""
    text = typed.strip().removeprefix("$").strip()
    if _TOO_PRECISE.match(text):
        raise MoneyError(_("use at most two decimals (whole cents), e.g. 0.29"))
    if not _MAJOR.match(text):
        raise MoneyError(_("give the price as a number of dollars, e.g. 250 or 250.00"))
    minor = int(Decimal(text.replace(",", "")) * 100)
    maximum = get_settings().max_price
    if minor > maximum:
        raise MoneyError(
            _("a price can be at most %(maximum)s", maximum=format_major(maximum, grouped=True))
        )
    return minor


def format_major(amount: int, *, grouped: bool = False) -> str:
    """Minor units in major units with two decimals: 25000 -> "250.00" (or "1,250.00")."""
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 100)
    return f"{sign}{major:,}.{minor:02d}" if grouped else f"{sign}{major}.{minor:02d}"


# The amount the reader's way, then the ISO code: "1,250.00 CAD", "1 250,00 CAD",
# "1.250,00 CAD". The code, not a symbol: the Club's members are on both sides of
# borders where "$" means different money.
MONEY_PATTERN = "#,##0.00 ¤¤"


def format_money(amount: int, currency: str) -> str:
    """What a person reads, in the language in force: 125000, "CAD" -> "1,250.00 CAD"
    (Babel's format_currency with the booking's currency; its decimals for that currency)."""
    language = current()
    return format_currency(
        amount / 100,
        currency.upper(),
        format=MONEY_PATTERN,
        locale="en" if language not in ("fr", "es") else language,
    )
