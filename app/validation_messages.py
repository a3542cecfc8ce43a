"""What a person reads when their input fails a model's checks, in the language of the
request: pydantic's own messages ("Field required", "String should have at most 200
characters") are English only, so the common kinds are worded here from the error's
type and context. A message our own validators raise (a translated ValueError) is kept
as it is; an unusual kind falls back to pydantic's words."""

from __future__ import annotations

from typing import Any

from app.i18n import format_number, ngettext
from app.i18n import gettext as _


def message_for(error: Any) -> str:
    """The message of one error of `ValidationError.errors()`."""
    kind, context = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_short":
        limit = int(context.get("min_length", 1))
        return ngettext(
            "Give at least %(num)s character.", "Give at least %(num)s characters.", limit
        )
    if kind == "string_too_long":
        limit = int(context.get("max_length", 0))
        return ngettext(
            "Give at most %(num)s character.", "Give at most %(num)s characters.", limit
        )
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("Give a whole number.")
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type"):
        return _("Give a number.")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _bound(kind, context)
    if kind in ("string_type", "string_unicode"):
        return _("Give text.")
    if kind in ("bool_parsing", "bool_type"):
        return _("Give true or false.")
    if kind in ("enum", "literal_error"):
        return _("Choose one of: %(choices)s.", choices=context.get("expected", ""))
    if kind == "list_type":
        return _("Give a list.")
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _bound(kind: str, context: dict[str, Any]) -> str:
    value = next(iter(context.values()), 0)
    limit = format_number(value) if isinstance(value, int | float) else str(value)
    return {
        "greater_than_equal": _("Give a number of at least %(limit)s.", limit=limit),
        "greater_than": _("Give a number above %(limit)s.", limit=limit),
        "less_than_equal": _("Give a number of at most %(limit)s.", limit=limit),
        "less_than": _("Give a number below %(limit)s.", limit=limit),
    }[kind]
