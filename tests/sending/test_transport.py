"""The SMTP transport against a real server, with RFC 2920 pipelining announced and
without: the same message arrives intact, and refusals come back as the same errors."""

import pytest

from app.config import parse_smtp_url
from app.mailing.transport import PermanentDeliveryError, SmtpTransport, TransientDeliveryError

BODY = (
    b"From: news@club.example.org\r\nTo: a@example.org\r\nSubject: dots\r\n\r\n"
    b".a line that starts with a dot\r\n..two dots\r\nlast line without a break"
)


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def transport(request, smtp):
    smtp.handler.pipelining = request.param
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    yield transport
    transport.close()
    smtp.handler.pipelining = True


def test_messages_arrive_intact_over_one_connection(transport, smtp):
    for n in range(3):
        transport.send(BODY, mail_from="bounces+1@club.example.org", rcpt_to=[f"r{n}@example.org"])
    for n in range(3):
        (received,) = smtp.wait_for(f"r{n}@example.org")
        assert received.mail_from == "bounces+1@club.example.org"
        assert received.message.get_payload().splitlines() == [
            ".a line that starts with a dot",
            "..two dots",
            "last line without a break",
        ]
    assert transport.connections_opened == 1


def test_refusals_map_to_permanent_and_transient_and_the_connection_goes_on(transport, smtp):
    smtp.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user"
    smtp.handler.rcpt_replies["busy@example.org"] = "451 4.3.0 try later"
    with pytest.raises(PermanentDeliveryError) as permanent:
        transport.send(BODY, mail_from="b@club.example.org", rcpt_to=["gone@example.org"])
    assert permanent.value.code == 550
    with pytest.raises(TransientDeliveryError) as transient:
        transport.send(BODY, mail_from="b@club.example.org", rcpt_to=["busy@example.org"])
    assert transient.value.code == 451
    transport.send(BODY, mail_from="b@club.example.org", rcpt_to=["fine@example.org"])
    assert smtp.wait_for("fine@example.org")
    assert not smtp.to("gone@example.org") and not smtp.to("busy@example.org")
    assert transport.connections_opened == 1


def test_one_refused_recipient_of_two_is_reported_and_the_other_receives_it(transport, smtp):
    smtp.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user"
    with pytest.raises(PermanentDeliveryError):
        transport.send(
            BODY, mail_from="b@club.example.org", rcpt_to=["gone@example.org", "ok@example.org"]
        )
    assert smtp.wait_for("ok@example.org")
