"""Transactional mail goes through the job queue and survives a lost broker message."""

from datetime import timedelta

from sqlmodel import select

from app import jobs
from app.db import session_scope, utcnow
from app.mailing.models import TransactionalEmail, TransactionalStatus
from app.mailing.service import queue_transactional


def test_queued_mail_arrives_after_commit_with_its_text_twin(smtp, run_jobs):
    with session_scope() as session:
        queue_transactional(
            session,
            kind="test",
            to="reader@example.org",
            subject="Testing",
            template="admin_alert",
            message="Hello there",
        )
    run_jobs()
    (received,) = smtp.wait_for("reader@example.org")
    message = received.message
    assert message["Subject"] == "Testing"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "Hello there" in received.html()
    assert "Hello there" in received.text()
    assert "1 Commons Lane" in received.text()  # every Club email carries the postal address
    with session_scope() as session:
        (row,) = session.exec(select(TransactionalEmail)).all()
        assert row.status == TransactionalStatus.sent and row.attempts == 0  # no failed try
        assert row.html == row.text == ""  # its working links are not kept once sent


def test_the_sweep_resends_mail_whose_message_the_broker_lost(smtp, run_jobs):
    with session_scope() as session:
        session.add(
            TransactionalEmail(
                kind="test",
                to="lost@example.org",
                to_address="lost@example.org",
                subject="Lost",
                html="<p>found</p>",
                text="found",
                created_at=utcnow() - timedelta(minutes=5),
            )
        )
    # No job was ever enqueued for it: as if the broker lost the message.
    run_jobs()
    assert smtp.to("lost@example.org") == []
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    (received,) = smtp.wait_for("lost@example.org")
    assert "found" in received.text()


def test_a_permanent_refusal_marks_the_mail_failed_without_retrying(smtp, run_jobs):
    smtp.handler.rcpt_replies["nobody@example.org"] = "550 5.1.1 No such user"
    with session_scope() as session:
        queue_transactional(
            session,
            kind="test",
            to="nobody@example.org",
            subject="x",
            template="admin_alert",
            message="x",
        )
    run_jobs()
    with session_scope() as session:
        (row,) = session.exec(select(TransactionalEmail)).all()
        assert row.status == TransactionalStatus.failed
        assert row.attempts == 1
        assert "550" in row.last_error
