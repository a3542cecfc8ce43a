"""Every message the Club sends is built here, transactional and bulk alike.

A `MessageBuilder` holds what a message's recipients share (sender, subject, the
encoded bodies, the header block, the DKIM key), prepared once; `build` adds what is
personal (To, Date, Message-ID, the links spliced into the already encoded bodies,
List-Unsubscribe), signs it and returns the bytes with their envelope. Bulk mail
carries List-Id, List-Unsubscribe(-Post), List-Archive, Archived-At and
`Precedence: bulk`; transactional mail `Auto-Submitted: auto-generated`; both carry a
Feedback-ID, a VERP return path and a Message-ID that says nothing about our servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from types import MappingProxyType

import idna

from app.config import Settings
from app.mailing import dkim_signer
from app.mailing.body import EncodedBody

# Headers a caller may not set through `extra_headers`: the builder owns them.
_OWN = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


class AddressError(ValueError):
    """An address we cannot put on the wire (no domain, a domain IDNA refuses)."""


def sender_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def wire_address(address: str) -> str:
    """The address as it goes on the wire: the domain in IDNA (punycode), the local part
    as given (non-ASCII ones need SMTPUTF8)."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"{address!r} is not an email address")
    if domain.isascii():
        return f"{local}@{domain.lower()}"
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode()
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise AddressError(f"the domain of {address!r} cannot be written in IDNA") from exc
    return f"{local}@{ascii_domain}"


def needs_smtputf8(address: str) -> bool:
    """True for an address whose local part is not ASCII (RFC 6531)."""
    return not address.rpartition("@")[0].isascii()


@dataclass(frozen=True)
class ListInfo:
    """What bulk mail says about the list it belongs to."""

    list_id: str  # e.g. commons.coopdata.club
    name: str
    archive_url: str | None = None  # List-Archive
    archived_at: str | None = None  # Archived-At: this message on the web


@dataclass(frozen=True)
class Outgoing:
    raw: bytes
    mail_from: str  # the envelope sender (VERP)
    rcpt_to: str
    smtputf8: bool


@lru_cache(maxsize=8)
def _message_id_key(secret: str) -> bytes:
    return hashlib.sha256(("message-id:" + secret).encode()).digest()


def message_id(settings: Settings, seed: str, domain: str) -> str:
    """Stable for the same seed (a re-sent message keeps its id), opaque otherwise."""
    key = _message_id_key(settings.secret_keys[0])
    digest = hmac.new(key, seed.encode(), hashlib.sha256).digest()[:15]
    return f"<{base64.b32encode(digest).decode().lower()}@{domain}>"


class _DateCache:
    """RFC 5322 dates, formatted once per second."""

    second = -1
    value = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.value, self.second = formatdate(second, usegmt=True).encode(), second
        return self.value


_dates = _DateCache()


@lru_cache(maxsize=256)
def _header_block(
    sender_name: str,
    sender_address: str,
    subject: str,
    feedback_id: str,
    reply_to: str | None,
    list_info: ListInfo | None,
    extra_headers: tuple[tuple[str, str], ...],
    lang: str,
) -> tuple[str, bytes, Mapping[bytes, list[bytes]]]:
    """The MIME boundary, the header block every recipient shares (folded and encoded)
    and its relaxed canonical form; built once per process for the same headers, as
    the email package's header handling was a seventh of the worker's time when every
    confirmation built its own. Messages may share a boundary: one starting `=_` never
    occurs in quoted-printable."""
    boundary = "=_" + secrets.token_hex(16)
    static = EmailMessage(policy=SMTP)
    static["From"] = formataddr((sender_name, wire_address(sender_address)))
    if reply_to:
        static["Reply-To"] = reply_to
    static["Subject"] = subject
    static["MIME-Version"] = "1.0"
    static["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    static["Content-Language"] = lang
    static["Feedback-ID"] = feedback_id
    if list_info is not None:
        static["List-Id"] = f"{list_info.name} <{list_info.list_id}>"
        static["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if list_info.archive_url:
            static["List-Archive"] = f"<{list_info.archive_url}>"
        if list_info.archived_at:
            static["Archived-At"] = f"<{list_info.archived_at}>"
        static["Precedence"] = "bulk"
    else:
        static["Auto-Submitted"] = "auto-generated"
    for name, value in extra_headers:
        if name.lower() in _OWN:
            raise ValueError(f"{name} is set by the message builder")
        static[name] = value
    # Everything before the blank line: the headers, already folded and encoded.
    headers = static.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return boundary, headers, MappingProxyType(dkim_signer.relaxed_fields(headers))


class MessageBuilder:
    def __init__(
        self,
        *,
        settings: Settings,
        sender_name: str,
        sender_address: str,
        subject: str,
        html: EncodedBody,
        text: EncodedBody,
        feedback_id: str,
        reply_to: str | None = None,
        list_info: ListInfo | None = None,
        extra_headers: Mapping[str, str] | None = None,
        lang: str = "en",
    ) -> None:
        self.settings = settings
        self.html, self.text = html, text
        self.domain = sender_domain(sender_address).lower()
        self.bulk = list_info is not None
        self.dkim_key = dkim_signer.key_for(settings, self.domain)
        self.boundary, self.static_headers, self._canonical_headers = _header_block(
            sender_name,
            sender_address,
            subject,
            feedback_id,
            reply_to,
            list_info,
            tuple((extra_headers or {}).items()),
            lang,
        )
        b = self.boundary.encode()
        part = (
            b'Content-Type: text/%s; charset="utf-8"\r\n'
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        self._text_head = b"--" + b + b"\r\n" + part % b"plain"
        self._html_head = b"\r\n--" + b + b"\r\n" + part % b"html"
        self._end = b"\r\n--" + b + b"--\r\n"
        self._canonical = [
            dkim_signer.relaxed_piece(p) for p in (self._text_head, self._html_head, self._end)
        ]

    def build(
        self,
        *,
        to: str,
        seed: str,
        return_path: str,
        values: Mapping[str, str] | None = None,
        variant: str = "",
        unsubscribe_url: str | None = None,
    ) -> Outgoing:
        """One recipient's message. `seed` names the message for its Message-ID (the
        delivery or transactional email it is); `values` fill the bodies' slots."""
        wire = wire_address(to)
        utf8 = needs_smtputf8(wire)
        date, msgid = _dates.now(), message_id(self.settings, seed, self.domain).encode()
        head = (
            b"To: " + wire.encode() + b"\r\nDate: " + date + b"\r\nMessage-ID: " + msgid + b"\r\n"
        )
        if self.bulk:
            if unsubscribe_url is None:
                raise ValueError("bulk mail needs an unsubscribe link")
            head += b"List-Unsubscribe: <" + unsubscribe_url.encode() + b">\r\n"
        text, text_canonical = self.text.encode(values, variant)
        html, html_canonical = self.html.encode(values, variant)
        body = self._text_head + text + self._html_head + html + self._end
        raw = self.static_headers + head + b"\r\n" + body
        if self.dkim_key is not None:
            c_text_head, c_html_head, c_end = self._canonical
            canonical = c_text_head + text_canonical + c_html_head + html_canonical + c_end
            relaxed = dkim_signer.relaxed_header
            headers = {
                **self._canonical_headers,
                b"to": [relaxed(b"To", b" " + wire.encode())],
                b"date": [relaxed(b"Date", b" " + date)],
                b"message-id": [relaxed(b"Message-ID", b" " + msgid)],
            }
            if unsubscribe_url is not None and self.bulk:
                headers[b"list-unsubscribe"] = [
                    relaxed(b"List-Unsubscribe", b" <" + unsubscribe_url.encode() + b">")
                ]
            raw = dkim_signer.sign(
                raw, self.dkim_key, relaxed_body_canon=canonical, relaxed_headers=headers
            )
        return Outgoing(raw=raw, mail_from=return_path, rcpt_to=wire, smtputf8=utf8)
