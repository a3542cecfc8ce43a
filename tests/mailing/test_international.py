"""Addresses outside ASCII: domains go out in IDNA, a non-ASCII local part travels with
SMTPUTF8 when the server announces it, and a server without it is told about up front
(signup refused with the reason) and, for mail already queued, fails it with the
reason instead of crashing or looping."""

import pytest
from sqlmodel import select

from app.db import session_scope
from app.mailing.models import TransactionalEmail, TransactionalStatus
from app.mailing.service import queue_transactional
from app.mailing.transport import forget_server_answers
from tests.subscribers.helpers import confirm_from_mail, make_topics, statuses

ADDRESS = "josé@bücher.example"
ON_THE_WIRE = "josé@xn--bcher-kva.example"


@pytest.fixture
def old_server(smtp):
    """The test server without SMTPUTF8, restarted so every client sees the new EHLO."""
    smtp.stop()
    smtp.handler.smtputf8 = False
    smtp.start()
    forget_server_answers()
    yield smtp
    smtp.stop()
    smtp.handler.smtputf8 = True
    smtp.start()
    forget_server_answers()


def test_a_non_ascii_address_is_confirmed_end_to_end(client, smtp, run_jobs):
    make_topics()
    forget_server_answers()
    response = client.post("/api/v1/subscribe", json={"email": ADDRESS, "topics": ["food"]})
    assert response.status_code == 202
    run_jobs()
    (mail,) = smtp.wait_for(ON_THE_WIRE)
    assert mail.message["To"] == ON_THE_WIRE
    assert confirm_from_mail(client, smtp, ON_THE_WIRE, run_jobs).status_code == 200
    assert statuses(ADDRESS) == {"food": ("active", None)}


def test_a_server_without_smtputf8_is_refused_up_front_and_fails_queued_mail(
    client, old_server, run_jobs
):
    make_topics()
    response = client.post("/api/v1/subscribe", json={"email": ADDRESS, "topics": ["food"]})
    assert response.status_code == 422
    assert "outside ASCII" in response.text and "email" in response.text
    assert statuses(ADDRESS) == {}
    # ASCII addresses are unaffected.
    ok = client.post("/api/v1/subscribe", json={"email": "ana@bücher.example", "topics": ["food"]})
    assert ok.status_code == 202
    # Mail queued for such an address before (or without) the check fails once, clearly.
    with session_scope() as session:
        queue_transactional(
            session,
            kind="admin-alert",
            to=ADDRESS,
            subject="Hi",
            template="admin_alert",
            message="x",
        )
    run_jobs()
    with session_scope() as session:
        (email,) = session.exec(
            select(TransactionalEmail).where(TransactionalEmail.to_address == ADDRESS)
        ).all()
        assert email.status == TransactionalStatus.failed and email.attempts == 1
        assert "SMTPUTF8" in email.last_error
    (arrived,) = old_server.wait_for("ana@xn--bcher-kva.example")
    assert arrived.mail_from.startswith("bounces+t")
