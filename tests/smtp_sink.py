"""A real SMTP server in the test process (aiosmtpd) that keeps what arrives."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    session_id: int

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""


@dataclass
class Handler:
    messages: list[Received] = field(default_factory=list)
    # Replies for RCPT TO by address, e.g. {"bad@x.org": "550 5.1.1 no such user"}.
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    # Replies given once, then the address is accepted (a mailbox that comes back).
    rcpt_replies_once: dict[str, str] = field(default_factory=dict)
    sessions: int = 0
    # Real servers (Postfix, Exim, the big providers) announce RFC 2920 PIPELINING, so
    # the sink does too; a test may turn it off to exercise the one-by-one exchange.
    pipelining: bool = True
    # Postfix (3.0+) and the big providers announce RFC 6531 SMTPUTF8; a test may turn
    # it off (then restart the sink, so clients see the new EHLO) to play an old server.
    smtputf8: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        if not self.smtputf8:
            responses = [r for r in responses if "SMTPUTF8" not in r]
        with self.lock:
            self.sessions += 1
            session.sink_id = self.sessions
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.rcpt_replies.get(address.lower())
        if reply is None:
            with self.lock:
                reply = self.rcpt_replies_once.pop(address.lower(), None)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.content,
                    getattr(session, "sink_id", 0),
                )
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start, stop and restart on a fixed loopback port; wait for messages to arrive."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Handler()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()
            self.handler.rcpt_replies.clear()
            self.handler.rcpt_replies_once.clear()

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        got = len(self.to(address))
        raise AssertionError(f"expected {count} message(s) to {address} in {timeout}s, got {got}")
