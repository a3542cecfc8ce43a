"""What a name or a subject may hold: one line of printable text. Such values end up
in email headers (From names, subjects), where a control character either breaks the
message or is refused by the mail library long after the person typed it."""

from __future__ import annotations

import unicodedata

# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_NOT_TEXT = {"Cc", "Zl", "Zp"}
# Invisible characters that reorder or hide what is shown (a name that reads backwards
# in an admin list, "Trojan Source", CVE-2021-42574): the bidirectional embeddings,
# overrides and isolates, the zero-width space, the word joiner and a stray BOM. The
# zero-width joiner and non-joiner stay: Persian, Indic scripts and emoji need them.
_INVISIBLE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u2060\ufeff")
# What a multi-line text (a description) may hold besides printable characters.
_LINE_BREAKS = frozenset("\n\r\t")

PROBLEM = (
    "must be one line of text, without control characters such as line breaks or tabs, "
    "or invisible ones such as direction overrides"
)
TEXT_PROBLEM = (
    "must be plain text, without control characters or invisible ones such as direction overrides"
)


def _refused(char: str) -> bool:
    return char in _INVISIBLE or unicodedata.category(char) in _NOT_TEXT


def has_control_characters(value: str) -> bool:
    return any(_refused(char) for char in value)


def has_hidden_characters(value: str) -> bool:
    """For text that may span lines: line breaks and tabs are fine, the rest is not."""
    return any(char not in _LINE_BREAKS and _refused(char) for char in value)


def one_line(value: object) -> object:
    """A pydantic `before` validator: refuse control characters in a string."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValueError(PROBLEM)
    return value
