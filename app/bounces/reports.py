"""Reading bounce and complaint reports.

Standard reports are read with the standard library: DSNs (RFC 3464) and ARF feedback
reports (RFC 5965). Everything else that arrives (the many non-standard bounce formats
of real mail servers) goes through flufl.bounce, Mailman's detectors. Any report sent
to one of our VERP return paths is matched to the message it concerns, whatever its
format: the return path names it (app/mailing/verp.py).
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage, Message

from flufl.bounce import all_failures

from app.mailing import verp

ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Return-Path")


@dataclass(frozen=True)
class ParsedReport:
    kind: str  # hard, soft, complaint
    target: tuple[str, int] | None  # ("", delivery id) or ("t", transactional mail id)
    status: str | None
    detail: str


class UnreadableReport(ValueError):
    """Not a report we can read, or not about a message we sent."""


def _verp_in(message: Message) -> tuple[str, int] | None:
    for header in ADDRESS_HEADERS:
        for value in message.get_all(header) or []:
            for part in str(value).replace(",", " ").split():
                found = verp.parse(part.strip("<>;\"'"))
                if found is not None:
                    return found
    return None


def _original_headers(report: Message) -> Message | None:
    for part in report.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
            if isinstance(payload, str):
                return email.message_from_string(payload, policy=email.policy.default)
    return None


def target_of(report: Message) -> tuple[str, int] | None:
    """The message a report is about: the VERP address it was sent to, or the return
    path in the original headers it quotes."""
    found = _verp_in(report)
    if found is None:
        original = _original_headers(report)
        if original is not None:
            found = _verp_in(original)
    return found


def parse(raw: bytes) -> ParsedReport:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    target = target_of(message)
    if message.get_content_type() == "multipart/report":
        report_type = (message.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return _parse_dsn(message, target)
        if report_type == "feedback-report":
            return _parse_arf(message, target)
    return _parse_other(raw, target)


def _parse_dsn(message: Message, target: tuple[str, int] | None) -> ParsedReport:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        # The first block is per-message; each later one describes one recipient.
        for block in blocks[1:] if isinstance(blocks, list) else []:
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            diagnostic = str(block.get("Diagnostic-Code", "")).strip()
            if action == "failed" and status.startswith("5"):
                return ParsedReport("hard", target, status, diagnostic[:500])
            if action in ("failed", "delayed") or status.startswith("4"):
                return ParsedReport("soft", target, status, diagnostic[:500])
        raise UnreadableReport("the delivery status names no failed or delayed recipient")
    raise UnreadableReport("a delivery-status report without a message/delivery-status part")


def _parse_arf(message: Message, target: tuple[str, int] | None) -> ParsedReport:
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields: Message | EmailMessage
        if isinstance(payload, list) and payload:
            fields = payload[0]
        else:
            fields = email.message_from_string(str(payload), policy=email.policy.default)
        feedback = str(fields.get("Feedback-Type", "")).strip().lower()
        if not feedback:
            raise UnreadableReport("the feedback report has no Feedback-Type")
        return ParsedReport("complaint", target, feedback, f"Feedback-Type: {feedback}")
    raise UnreadableReport("a feedback report without a message/feedback-report part")


def _parse_other(raw: bytes, target: tuple[str, int] | None) -> ParsedReport:
    """A bounce in a server's own format: flufl.bounce's detectors say whether it
    reports a permanent or a temporary failure. A message to one of our VERP
    addresses that no detector understands is still a bounce of that message (as
    Mailman counts it), taken as a soft one."""
    # flufl.bounce's detectors expect the compat32 message API.
    legacy = email.message_from_bytes(raw)
    auto = str(legacy.get("Auto-Submitted", "")).lower()
    if auto.startswith("auto-replied") or legacy.get("X-Autoreply") is not None:
        raise UnreadableReport("an automatic reply (out of office), not a bounce")
    try:
        temporary, permanent = all_failures(legacy)
    except Exception:  # a detector choking on a malformed message
        temporary, permanent = set(), set()
    if permanent:
        return ParsedReport("hard", target, None, "a permanent failure (non-standard bounce)")
    if temporary:
        return ParsedReport("soft", target, None, "a temporary failure (non-standard bounce)")
    if target is not None:
        return ParsedReport("soft", target, None, "a message to the return path, not understood")
    raise UnreadableReport(
        "not a multipart/report (RFC 3464 DSN or RFC 5965 ARF), not a bounce format we "
        "know, and not sent to one of our return paths"
    )
