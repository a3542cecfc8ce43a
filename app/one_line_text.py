"""What a name or a subject may hold: one line of printable text. Such values end up
in email headers (From names, subjects), where a control character either breaks the
message or is refused by the mail library long after the person typed it."""

from __future__ import annotations

import unicodedata

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_NOT_TEXT = {"Cc", "Zl", "Zp"}

PROBLEM = "must be one line of text, without control characters such as line breaks or tabs"


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) in _NOT_TEXT for char in value)


def one_line(value: object) -> object:
    """A pydantic `before` validator: refuse control characters in a string."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValueError(PROBLEM)
    return value
