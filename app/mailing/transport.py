"""One mail transport interface with two real implementations: SMTP and a file outbox.

Callers hand over finished message bytes with the envelope; the transport knows
nothing about newsletters. Errors come back as Transient (try again later) or
Permanent (this recipient will never accept it) so callers can decide.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from app.config import Settings, SmtpConfig
from app.metrics import count_message


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientDeliveryError(DeliveryError):
    """The server or network said 'not now' (4xx, refused, dropped): retry later."""


class PermanentDeliveryError(DeliveryError):
    """The server refused this message or recipient for good (5xx)."""


class UnsupportedAddressError(PermanentDeliveryError):
    """Our own mail server cannot take this address (a non-ASCII local part without
    SMTPUTF8): nothing is wrong with the mailbox, so it is not a bounce."""


SMTPUTF8_MISSING = (
    "the mail server does not announce SMTPUTF8, which an address with characters "
    "outside ASCII before the @ needs"
)


class MailTransport(Protocol):
    name: str

    def send(
        self, message: bytes, *, mail_from: str, rcpt_to: list[str], smtputf8: bool = False
    ) -> None:
        """Hand over one message; `smtputf8` when an address or header needs RFC 6531."""
        ...

    def supports_smtputf8(self) -> bool:
        """Whether a non-ASCII local part can be delivered at all."""
        ...

    def probe(self) -> None:
        """Raise TransientDeliveryError unless a message could be handed over now."""
        ...

    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection reused across messages, reopened when the server drops it."""

    name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._connection: smtplib.SMTP | None = None
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        try:
            if cfg.ssl:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            connection.ehlo()
            if cfg.starttls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if cfg.username:
                connection.login(cfg.username, cfg.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError(
                f"SMTP login refused by {cfg.host}:{cfg.port}", code=exc.smtp_code
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(
                f"cannot connect to SMTP server {cfg.host}:{cfg.port}: {exc}"
            ) from exc
        self.connections_opened += 1
        return connection

    def _send_once(
        self, message: bytes, mail_from: str, rcpt_to: list[str], smtputf8: bool
    ) -> None:
        if self._connection is None:
            self._connection = self._connect()
        connection = self._connection
        if smtputf8:
            if not connection.has_extn("smtputf8"):
                raise UnsupportedAddressError(SMTPUTF8_MISSING)
            refused = connection.sendmail(mail_from, rcpt_to, message, mail_options=["SMTPUTF8"])
        elif connection.has_extn("pipelining"):
            refused = _pipelined_sendmail(connection, mail_from, rcpt_to, message)
        else:
            refused = connection.sendmail(mail_from, rcpt_to, message)
        if refused:
            code, text = next(iter(refused.values()))
            error = PermanentDeliveryError if code >= 500 else TransientDeliveryError
            raise error(f"recipient refused: {code} {text!r}", code=code)

    def send(
        self, message: bytes, *, mail_from: str, rcpt_to: list[str], smtputf8: bool = False
    ) -> None:
        try:
            self._send(message, mail_from, rcpt_to, smtputf8)
        except PermanentDeliveryError:
            count_message("refused")
            raise
        except TransientDeliveryError:
            count_message("deferred")
            raise
        count_message("sent")

    def _send(self, message: bytes, mail_from: str, rcpt_to: list[str], smtputf8: bool) -> None:
        smtputf8 = smtputf8 or not all(a.isascii() for a in [mail_from, *rcpt_to])
        for attempt in (1, 2):
            try:
                self._send_once(message, mail_from, rcpt_to, smtputf8)
                return
            except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError) as exc:
                # The server closed a reused connection; open a fresh one and try once more.
                self._drop()
                if attempt == 2:
                    raise TransientDeliveryError(f"SMTP connection lost: {exc}") from exc
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                self._reset()
                error = PermanentDeliveryError if code >= 500 else TransientDeliveryError
                raise error(f"recipient refused: {code} {text!r}", code=code) from exc
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 and attempt == 1:
                    # "Closing the connection" (a server restarting, an idle timeout):
                    # like a dropped connection, worth one fresh one at once.
                    self._drop()
                    continue
                self._reset()
                error = PermanentDeliveryError if exc.smtp_code >= 500 else TransientDeliveryError
                raise error(f"{exc.smtp_code} {exc.smtp_error!r}", code=exc.smtp_code) from exc

    def supports_smtputf8(self) -> bool:
        if self._connection is None:
            self._connection = self._connect()
        return bool(self._connection.has_extn("smtputf8"))

    def probe(self) -> None:
        self._drop()
        self._connection = self._connect()
        try:
            self._connection.noop()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TransientDeliveryError(f"SMTP server not answering: {exc}") from exc

    def _reset(self) -> None:
        if self._connection is not None:
            try:
                self._connection.rset()
            except (OSError, smtplib.SMTPException):
                self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._connection.quit()
            self._drop()


LEADING_DOT = re.compile(rb"(?m)^\.")


def _pipelined_sendmail(
    connection: smtplib.SMTP, mail_from: str, rcpt_to: list[str], message: bytes
) -> dict[str, tuple[int, bytes]]:
    """`SMTP.sendmail` with MAIL, RCPT and DATA written at once and their replies read
    together (RFC 2920 PIPELINING): one wait for the server instead of three before
    the body. Raises the same smtplib exceptions and returns the same refusals."""
    mail = f"MAIL FROM:{smtplib.quoteaddr(mail_from)}"
    if connection.has_extn("size"):
        mail += f" SIZE={len(message)}"
    commands = [mail] + [f"RCPT TO:{smtplib.quoteaddr(r)}" for r in rcpt_to] + ["DATA"]
    connection.send("".join(command + "\r\n" for command in commands))
    replies = [connection.getreply() for _ in commands]

    def fail() -> None:
        if any(code == 421 for code, _ in replies):
            connection.close()
        else:
            connection.rset()

    code, text = replies[0]
    if code != 250:
        fail()
        raise smtplib.SMTPSenderRefused(code, text, mail_from)
    refused = {
        address: (code, text)
        for address, (code, text) in zip(rcpt_to, replies[1:-1], strict=True)
        if code not in (250, 251)
    }
    if len(refused) == len(rcpt_to):
        fail()
        raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
    code, text = replies[-1]
    if code != 354:
        fail()
        raise smtplib.SMTPDataError(code, text)
    # Dot-stuffing (RFC 5321 4.5.2); most messages have no line starting with a dot.
    body = LEADING_DOT.sub(b"..", message) if b"\n." in message or message[:1] == b"." else message
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    connection.send(body + b".\r\n")
    code, text = connection.getreply()
    if code != 250:
        if code == 421:
            connection.close()
        else:
            connection.rset()
        raise smtplib.SMTPDataError(code, text)
    return refused


class OutboxTransport:
    """The embedded default: each message becomes one .eml file under var/outbox."""

    name = "outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(
        self, message: bytes, *, mail_from: str, rcpt_to: list[str], smtputf8: bool = False
    ) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        envelope = f"X-Envelope-From: {mail_from}\r\nX-Envelope-To: {', '.join(rcpt_to)}\r\n"
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(envelope.encode() + message)
        tmp.rename(path)  # readers never see half a message
        count_message("sent")

    def supports_smtputf8(self) -> bool:
        return True  # a file takes any address

    def probe(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransientDeliveryError(f"cannot write to the outbox: {exc}") from exc

    def close(self) -> None:
        pass


def make_transport(settings: Settings) -> MailTransport:
    if settings.smtp is not None:
        return SmtpTransport(settings.smtp)
    return OutboxTransport(settings.outbox_dir)


_local = threading.local()

# Whether the configured server announces SMTPUTF8, asked at most once per interval.
_SMTPUTF8_RECHECK_SECONDS = 300.0
_smtputf8_answers: dict[str, tuple[float, bool]] = {}


def server_takes_utf8_addresses(settings: Settings) -> bool:
    """Whether mail to a non-ASCII local part can be handed over at all (the server
    announces SMTPUTF8; the outbox takes anything). Asked before accepting such an
    address at signup. An unreachable server counts as able: the mail then waits in
    the queue like any other, rather than the signup being refused for an outage."""
    if settings.smtp_url is None:
        return True
    now = time.monotonic()
    known = _smtputf8_answers.get(settings.smtp_url)
    if known is not None and now - known[0] < _SMTPUTF8_RECHECK_SECONDS:
        return known[1]
    transport = SmtpTransport(settings.smtp)  # type: ignore[arg-type]
    try:
        answer = transport.supports_smtputf8()
    except DeliveryError:
        return True
    finally:
        transport.close()
    _smtputf8_answers[settings.smtp_url] = (now, answer)
    return answer


def forget_server_answers() -> None:
    """Ask the server again next time (its configuration changed)."""
    _smtputf8_answers.clear()


def thread_transport(settings: Settings) -> MailTransport:
    """The calling worker thread's own transport, so each thread reuses one connection."""
    transport = getattr(_local, "transport", None)
    if transport is None:
        transport = _local.transport = make_transport(settings)
    return transport
