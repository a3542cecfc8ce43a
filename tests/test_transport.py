"""The mail transports against a real SMTP server and a real directory."""

import smtplib
from email import message_from_bytes

import pytest

from app.config import get_settings, parse_smtp_url
from app.mailing.body import EncodedBody
from app.mailing.message import MessageBuilder
from app.mailing.transport import (
    OutboxTransport,
    PermanentDeliveryError,
    SmtpTransport,
    TransientDeliveryError,
)


def _builder(subject: str) -> MessageBuilder:
    return MessageBuilder(
        settings=get_settings(),
        sender_name="Club",
        sender_address="news@club.test",
        subject=subject,
        html=EncodedBody.fixed(f"<p>{subject}</p>", html=True),
        text=EncodedBody.fixed(subject, html=False),
        feedback_id="test:transactional:coopclub",
    )


def _message(to: str, n: int = 0) -> bytes:
    built = _builder(f"Hello {n}").build(to=to, seed=f"test:{n}", return_path="b@club.test")
    return built.raw


def test_many_messages_over_one_connection(smtp):
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    for n in range(25):
        transport.send(
            _message(f"reader{n}@example.org", n),
            mail_from="news@club.test",
            rcpt_to=[f"reader{n}@example.org"],
        )
    transport.close()
    received = smtp.messages
    assert len(received) == 25
    assert transport.connections_opened == 1
    assert len({m.session_id for m in received}) == 1
    assert received[7].message["Subject"] == "Hello 7"


def test_reconnects_after_the_server_drops_the_connection(smtp):
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    transport.send(_message("a@example.org"), mail_from="news@club.test", rcpt_to=["a@example.org"])
    smtp.stop()  # the server goes away, taking the open connection with it
    smtp.start()
    transport.send(_message("b@example.org"), mail_from="news@club.test", rcpt_to=["b@example.org"])
    transport.close()
    assert [m.rcpt_tos for m in smtp.messages] == [["a@example.org"], ["b@example.org"]]
    assert transport.connections_opened == 2


def test_refusals_are_permanent_or_transient_by_code(smtp):
    smtp.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 No such user"
    smtp.handler.rcpt_replies["full@example.org"] = "452 4.2.2 Mailbox full"
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    with pytest.raises(PermanentDeliveryError) as permanent:
        transport.send(
            _message("gone@example.org"), mail_from="n@club.test", rcpt_to=["gone@example.org"]
        )
    assert permanent.value.code == 550
    with pytest.raises(TransientDeliveryError) as transient:
        transport.send(
            _message("full@example.org"), mail_from="n@club.test", rcpt_to=["full@example.org"]
        )
    assert transient.value.code == 452
    # The connection is still good for the next recipient.
    transport.send(_message("ok@example.org"), mail_from="n@club.test", rcpt_to=["ok@example.org"])
    transport.close()
    assert [m.rcpt_tos for m in smtp.messages] == [["ok@example.org"]]


def test_an_unreachable_server_is_transient():
    from tests.smtp_sink import free_port

    transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"))
    with pytest.raises(TransientDeliveryError, match="cannot connect"):
        transport.send(
            _message("a@example.org"), mail_from="n@club.test", rcpt_to=["a@example.org"]
        )


def test_outbox_writes_one_eml_per_message(tmp_path):
    transport = OutboxTransport(tmp_path / "outbox")
    for n in range(3):
        transport.send(
            _message(f"r{n}@example.org", n),
            mail_from="news@club.test",
            rcpt_to=[f"r{n}@example.org"],
        )
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 3
    parsed = message_from_bytes(files[0].read_bytes())
    assert parsed["X-Envelope-To"] == "r0@example.org"
    assert parsed["To"] == "r0@example.org"
    assert not list((tmp_path / "outbox").glob("*.tmp"))


def test_header_injection_is_refused():
    with pytest.raises(ValueError):
        _builder("Hi\r\nBcc: victim@example.org")


def test_smtp_login_failure_is_permanent(smtp):
    # aiosmtpd without AUTH configured answers AUTH with an error: never retry a bad login.
    transport = SmtpTransport(parse_smtp_url(smtp.url.replace("smtp://", "smtp://u:p@")))
    with pytest.raises((PermanentDeliveryError, TransientDeliveryError, smtplib.SMTPException)):
        transport.send(
            _message("a@example.org"), mail_from="n@club.test", rcpt_to=["a@example.org"]
        )
