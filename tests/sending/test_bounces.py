"""Bounces (RFC 3464, and the many non-standard formats real servers use) and
complaints (RFC 5965) arrive by webhook and turn into suppressions; the VERP return
path says which message they are about (confirmations have one too); stored reports
keep no address."""

import pytest
from sqlmodel import select

from app.config import get_settings
from app.consent.models import ConsentAction, ConsentEvent
from app.db import session_scope
from app.mailing.models import TransactionalEmail
from app.mailing.verp import parse as parse_verp
from app.newsletters.models import Newsletter
from app.sending.models import BounceReport, Delivery, DeliveryStatus
from app.subscribers.models import Subscriber
from app.subscribers.service import is_suppressed, suppression_for
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.subscribers.helpers import (
    assert_ledger_verifies,
    confirm_link,
    link_in,
    statuses,
)

SECRET = "bounce-secret-for-tests"

DSN = """\
From: MAILER-DAEMON@mx.example.org
To: {verp}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

This is the mail system at host mx.example.org. Your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822; {address}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {code} mailbox problem

--BOUNDARY
Content-Type: text/rfc822-headers

Return-Path: <{verp}>
From: news@club.example.org
To: {address}
Subject: Spring at the co-ops

--BOUNDARY--
"""

ARF = """\
From: feedback@isp.example.org
To: abuse@club.test
Subject: FW: Spring at the co-ops
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="ARFB"

--ARFB
Content-Type: text/plain

This is an email abuse report.

--ARFB
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeISP/1.0
Version: 1

--ARFB
Content-Type: message/rfc822

Return-Path: <{verp}>
From: news@club.example.org
To: {address}
Subject: Spring at the co-ops

Hello

--ARFB--
"""


@pytest.fixture
def sent(smtp, run_jobs, monkeypatch):
    monkeypatch.setattr(get_settings(), "bounce_webhook_secret", SECRET)
    food = make_topic("food")
    for name in ("hard", "soft", "angry"):
        people.active(f"{name}@example.org", [food])
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[food])))
    run_jobs()
    smtp.clear()
    people.start_now(issue)
    run_jobs()
    return {m.rcpt_tos[0]: m.mail_from for m in smtp.messages if m.message["List-Id"]}


def _post(client, raw: str, secret=SECRET):
    headers = {"content-type": "message/rfc822"}
    if secret:
        headers["x-bounce-secret"] = secret
    return client.post("/webhooks/bounces", content=raw.encode(), headers=headers)


def _delivery_of(address):
    with session_scope() as session:
        from app.subscribers.models import Subscriber

        subscriber = session.exec(select(Subscriber).where(Subscriber.email == address)).first()
        return session.exec(select(Delivery).where(Delivery.subscriber_id == subscriber.id)).one()


def test_a_hard_bounce_suppresses_at_once(client, sent):
    response = _post(
        client,
        DSN.format(
            verp=sent["hard@example.org"],
            address="hard@example.org",
            action="failed",
            status="5.1.1",
            code="550",
        ),
    )
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "hard"
    assert _delivery_of("hard@example.org").status == DeliveryStatus.bounced
    with session_scope() as session:
        assert is_suppressed(session, "hard@example.org")
        assert not is_suppressed(session, "soft@example.org")


def test_soft_bounces_suppress_after_the_configured_count(client, sent, monkeypatch):
    monkeypatch.setattr(get_settings(), "soft_bounce_limit", 2)
    dsn = DSN.format(
        verp=sent["soft@example.org"],
        address="soft@example.org",
        action="delayed",
        status="4.2.2",
        code="452",
    )
    assert _post(client, dsn).json()["kind"] == "soft"
    with session_scope() as session:
        assert not is_suppressed(session, "soft@example.org")
    assert _post(client, dsn).status_code == 202
    with session_scope() as session:
        assert is_suppressed(session, "soft@example.org")


def test_a_complaint_suppresses_and_withdraws_consent_in_the_ledger(client, sent):
    response = _post(
        client, ARF.format(verp=sent["angry@example.org"], address="angry@example.org")
    )
    assert response.status_code == 202 and response.json()["kind"] == "complaint"
    delivery = _delivery_of("angry@example.org")
    assert delivery.status == DeliveryStatus.complained
    with session_scope() as session:
        assert is_suppressed(session, "angry@example.org")
        from app.subscribers.models import Subscriber

        key = session.get(Subscriber, delivery.subscriber_id).key
        actions = [
            e.action
            for e in session.exec(
                select(ConsentEvent)
                .where(ConsentEvent.subscriber_key == key)
                .order_by(ConsentEvent.id)
            ).all()
        ]
    assert actions[-1] == ConsentAction.withdrawn


def test_a_malformed_report_is_stored_and_answered_422(client, sent):
    response = _post(client, "From: someone@example.org\nSubject: hello\n\nnot a report\n")
    assert response.status_code == 422 and "multipart/report" in response.json()["detail"]
    forged = DSN.format(
        verp="bounces+1-0000000000000000@club.test",
        address="hard@example.org",
        action="failed",
        status="5.1.1",
        code="550",
    )
    assert _post(client, forged).status_code == 422  # a forged VERP suppresses nobody
    with session_scope() as session:
        kinds = [r.kind for r in session.exec(select(BounceReport)).all()]
        assert kinds == ["unparsed", "unparsed"]
        assert not is_suppressed(session, "hard@example.org")


def test_the_webhook_needs_its_secret(client, sent):
    raw = DSN.format(
        verp=sent["hard@example.org"],
        address="hard@example.org",
        action="failed",
        status="5.1.1",
        code="550",
    )
    assert _post(client, raw, secret=None).status_code == 401
    assert _post(client, raw, secret="wrong").status_code == 401
    with session_scope() as session:
        assert not is_suppressed(session, "hard@example.org")


def test_bounces_import_reads_an_mbox(sent, tmp_path):
    import mailbox

    from click.testing import CliRunner

    from app.cli import cli

    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(
        DSN.format(
            verp=sent["hard@example.org"],
            address="hard@example.org",
            action="failed",
            status="5.1.1",
            code="550",
        ).encode()
    )
    box.add(ARF.format(verp=sent["angry@example.org"], address="angry@example.org").encode())
    box.add(b"From: x@example.org\nSubject: not a report\n\nhello\n")
    box.flush()
    result = CliRunner().invoke(cli, ["bounces", "import", str(tmp_path / "bounces.mbox")])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("3 reports read: 1 complaint, 1 hard, 1 unreadable")
    with session_scope() as session:
        assert is_suppressed(session, "hard@example.org")
        assert is_suppressed(session, "angry@example.org")


QMAIL = """\
From: MAILER-DAEMON@mx.example.org
To: {verp}
Subject: failure notice

Hi. This is the qmail-send program at mx.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{address}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <{verp}>
Subject: Spring at the co-ops
"""

UNKNOWN = """\
From: postmaster@odd.example.org
To: {verp}
Subject: Returned

Your mail to {address} could not be handed over to anyone here.
"""


def _reports():
    with session_scope() as session:
        return list(session.exec(select(BounceReport)).all())


def test_a_non_standard_bounce_to_a_verp_address_is_matched(client, sent):
    response = _post(
        client, QMAIL.format(verp=sent["hard@example.org"], address="hard@example.org")
    )
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "hard"
    assert _delivery_of("hard@example.org").status == DeliveryStatus.bounced
    with session_scope() as session:
        assert is_suppressed(session, "hard@example.org")


def test_a_bounce_no_detector_reads_still_counts_for_the_message_it_names(client, sent):
    response = _post(
        client, UNKNOWN.format(verp=sent["soft@example.org"], address="soft@example.org")
    )
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "soft"
    assert response.json()["delivery"] == _delivery_of("soft@example.org").id


def test_a_confirmation_has_a_verp_return_path_and_its_bounce_suppresses(
    client, smtp, run_jobs, sent
):
    client.post("/api/v1/subscribe", json={"email": "typo@example.org", "topics": ["food"]})
    run_jobs()
    (confirmation,) = smtp.wait_for("typo@example.org")
    kind, ident = parse_verp(confirmation.mail_from)
    with session_scope() as session:
        row = session.get(TransactionalEmail, ident)
        assert kind == "t" and row.to_address == "typo@example.org"
    raw = DSN.format(
        verp=confirmation.mail_from,
        address="typo@example.org",
        action="failed",
        status="5.1.1",
        code="550",
    )
    response = _post(client, raw)
    assert response.status_code == 202, response.text
    assert response.json()["transactional"] == ident
    with session_scope() as session:
        assert is_suppressed(session, "typo@example.org")


def test_stored_reports_keep_no_address(client, sent):
    raw = DSN.format(
        verp=sent["hard@example.org"],
        address="hard@example.org",
        action="failed",
        status="5.1.1",
        code="550 <hard@example.org>:",
    )
    assert _post(client, raw).status_code == 202
    junk = "From: someone@example.net\nTo: abuse@club.test\n\nI am ana@example.org, no bounce.\n"
    assert _post(client, junk).status_code == 422
    for report in _reports():
        stored = f"{report.detail} {report.raw or ''}"
        assert "@example.org" not in stored and "@example.net" not in stored


def _send_an_issue(run_jobs, subject: str) -> None:
    with session_scope() as session:
        newsletter = session.exec(select(Newsletter).where(Newsletter.slug == "commons")).one()
    issue = schedule_soon(make_issue(newsletter, subject=subject))
    run_jobs()
    people.start_now(issue)
    run_jobs()


def _hard_bounce(verp: str, address: str) -> str:
    return DSN.format(verp=verp, address=address, action="failed", status="5.1.1", code="550")


def _complaint(verp: str, address: str) -> str:
    return ARF.format(verp=verp, address=address)


@pytest.mark.parametrize(
    ("address", "report", "reason"),
    [
        ("hard@example.org", _hard_bounce, "hard-bounce"),
        ("angry@example.org", _complaint, "complaint"),
    ],
)
def test_after_a_hard_bounce_or_a_complaint_only_a_confirmed_signup_brings_mail_back(
    client, smtp, run_jobs, sent, address, report, reason
):
    assert _post(client, report(sent[address], address)).status_code == 202
    with session_scope() as session:
        assert suppression_for(session, address).reason == reason
    smtp.clear()
    # Suppressed, nothing reaches them (a hard bounce leaves the subscription active).
    _send_an_issue(run_jobs, "While suppressed")
    assert "While suppressed" in smtp.wait_for("soft@example.org")[0].message["Subject"]
    assert smtp.to(address) == []
    smtp.clear()
    again = client.post("/api/v1/subscribe", json={"email": address, "topics": ["food"]})
    assert again.status_code == 202
    run_jobs()
    (confirmation,) = smtp.wait_for(address)

    # Until they confirm, the suppression holds: the next issue reaches everyone else.
    _send_an_issue(run_jobs, "Before confirming")
    assert "Before confirming" in smtp.wait_for("soft@example.org")[0].message["Subject"]
    assert smtp.to(address) == [confirmation]
    with session_scope() as session:
        assert suppression_for(session, address).reason == reason

    confirmed = confirm_link(client, link_in(confirmation, "confirm"))
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert statuses(address) == {"food": ("active", None)}
    with session_scope() as session:
        assert not is_suppressed(session, address)
        key = session.exec(select(Subscriber.key).where(Subscriber.email == address)).one()
        events = session.exec(
            select(ConsentEvent).where(ConsentEvent.subscriber_key == key).order_by(ConsentEvent.id)
        ).all()
    confirmation_event, lift = events[-2:]
    assert confirmation_event.action == ConsentAction.confirmed
    # The lift is in the ledger, made by this confirmation (its link's digest).
    assert lift.action == ConsentAction.lifted
    assert lift.token_digest == confirmation_event.token_digest is not None
    assert sum(e.action == ConsentAction.lifted for e in events) == 1

    _send_an_issue(run_jobs, "After confirming")
    (issue,) = smtp.wait_for(address, count=2)[1:]
    assert issue.message["Subject"] == "After confirming"
    assert_ledger_verifies(run_jobs)
