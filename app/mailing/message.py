"""Building RFC 5322 messages: headers through the standard library, never by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr


def sender_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"


def build_message(
    *,
    mail_from: str,
    to: str,
    subject: str,
    html: str,
    text: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message; header values with CR or LF are refused."""
    message = EmailMessage(policy=SMTP)
    message["From"] = mail_from
    username, _, domain = to.rpartition("@")
    message["To"] = Address(addr_spec=to) if username and domain else to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender_domain(mail_from))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
