"""Message bodies encoded to quoted-printable once, with slots for what is personal.

A body is rendered once with a marker in place of each per-recipient value (the first
name, the personal links), encoded, and cut at the markers. Each message then joins
the encoded pieces with its own values, encoded on their own and set off by soft line
breaks (`=` at a line's end, which decodes to nothing), so no line grows past what
quoted-printable allows and nothing a value holds can act as markup or structure.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Mapping

from markupsafe import escape

from app.mailing.dkim_signer import relaxed_piece

_SLOT = re.compile("\ue001([a-z_]+)\ue002")
_SOFT_BREAK = b"=\r\n"


def slot(name: str) -> str:
    """The marker a template renders where the value `name` goes."""
    return f"\ue001{name}\ue002"


def qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends (the C codec in binascii)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(normalised, istext=True).replace(b"\n", b"\r\n")


class EncodedBody:
    """One part's body (HTML or text), in one or more variants (e.g. with and without
    a first name), each already encoded apart from its slots. `render(variant)` gives
    a variant's text with slot markers; each variant is rendered once, when first used."""

    def __init__(self, render: Callable[[str], str], *, html: bool) -> None:
        self.html = html
        self.render = render
        # Per variant: encoded text and slot names, alternating; and the same pieces in
        # DKIM's relaxed canonical form, so a signature need not canonicalise the
        # whole body again for every recipient (slots sit between soft line breaks,
        # so canonicalising the pieces apart gives the same bytes as the whole).
        self.variants: dict[str, list[bytes | str]] = {}
        self.canonical: dict[str, list[bytes | str]] = {}

    def _prepare(self, variant: str) -> None:
        pieces = _SLOT.split(self.render(variant))
        # split() alternates: text, slot name, text, slot name, ..., text
        encoded = [qp(p) if index % 2 == 0 else p for index, p in enumerate(pieces)]
        self.canonical[variant] = [relaxed_piece(p) if isinstance(p, bytes) else p for p in encoded]
        self.variants[variant] = encoded

    @classmethod
    def fixed(cls, rendered: str, *, html: bool) -> EncodedBody:
        """A body with nothing personal left to fill (transactional mail)."""
        return cls(lambda _variant: rendered, html=html)

    def encode(
        self, values: Mapping[str, str] | None = None, variant: str = ""
    ) -> tuple[bytes, bytes]:
        """The encoded body with `values` in its slots, and its relaxed canonical form."""
        if variant not in self.variants:
            self._prepare(variant)
        pieces, canonical = self.variants[variant], self.canonical[variant]
        if len(pieces) == 1:
            return pieces[0], canonical[0]  # type: ignore[return-value]
        values = values or {}
        out, out_canonical = [], []
        for piece, piece_canonical in zip(pieces, canonical, strict=True):
            if isinstance(piece, bytes):
                out.append(piece)
                out_canonical.append(piece_canonical)
            else:
                value = values[piece]
                encoded = qp(str(escape(value)) if self.html else value)
                out += (_SOFT_BREAK, encoded, _SOFT_BREAK)
                out_canonical += (_SOFT_BREAK, relaxed_piece(encoded), _SOFT_BREAK)
        return b"".join(out), b"".join(out_canonical)
