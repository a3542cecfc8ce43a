"""Transactional mail under faults: a worker that lost its claim changes nothing, an
outage pauses delivery instead of failing it, and a login link does not wait for a
newsletter send."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from app import jobs
from app.db import session_scope, utcnow
from app.mailing import outage
from app.mailing import service as mail
from app.mailing.models import TransactionalEmail, TransactionalStatus
from app.newsletters.models import Issue, IssueStatus
from app.sending import lifecycle
from tests.conftest import empty_tables
from tests.members.factories import csrf, make_account
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.subscribers.helpers import make_topics


def _queue(to: str) -> int:
    with session_scope() as session:
        return mail.queue_transactional(
            session, kind="test", to=to, subject="Hello", template="admin_alert", message="Hi"
        ).id


def _rows() -> list[TransactionalEmail]:
    with session_scope() as session:
        return list(session.exec(select(TransactionalEmail)).all())


def test_a_job_that_lost_its_claim_cannot_mark_another_mail_sent(worker, smtp, run_jobs):
    # The cause of the import-test flake: a job from an earlier test was still in flight
    # when the tables were emptied, the next test's first mail got the same id, and the
    # late job recorded "sent" on it; that mail was then never sent.
    worker.pause()
    try:
        earlier = _queue("earlier@example.org")
        with session_scope() as session:
            stalled = mail.claim(session, earlier)  # a worker takes it, then stalls
        assert stalled is not None
        empty_tables()  # between two tests: ids start again
        assert _queue("ana@example.org") == earlier
        with session_scope() as session:  # the stalled job wakes up and records its send
            mail.record_outcome(session, stalled, mail.Outcome(sent=True))
    finally:
        worker.resume()
    run_jobs()
    (received,) = smtp.wait_for("ana@example.org")
    assert received.message["Subject"] == "Hello"


def test_a_lapsed_claim_taken_by_another_worker_is_theirs_alone(worker, smtp, run_jobs):
    worker.pause()
    try:
        email_id = _queue("ben@example.org")
        with session_scope() as session:
            first = mail.claim(session, email_id)
            # The first worker stalls past the lease; the clock moves on.
            session.execute(
                update(TransactionalEmail).values(claimed_at=utcnow() - timedelta(minutes=6))
            )
        with session_scope() as session:
            second = mail.claim(session, email_id)
        assert second is not None and second.token != first.token
        with session_scope() as session:
            failed = mail.Outcome(sent=False, error=mail.PermanentDeliveryError("550 late"))
            mail.record_outcome(session, first, failed)
        (row,) = _rows()
        assert row.status == TransactionalStatus.sending and row.last_error is None
    finally:
        worker.resume()


def test_confirmations_survive_a_30_minute_outage(client, smtp, run_jobs):
    make_topics()
    emails = [f"reader{n}@example.org" for n in range(3)]
    smtp.stop()
    try:
        for email in emails:
            client.post("/api/v1/subscribe", json={"email": email, "topics": ["food"]})
        run_jobs()  # the first try finds the server down: transactional mail pauses
        with session_scope() as session:
            assert outage.paused(session)
        # Half an hour passes with the server still down, the sweep ticking on.
        with session_scope() as session:
            for row in session.exec(select(TransactionalEmail)).all():
                row.created_at -= timedelta(minutes=30)
                row.next_attempt_at -= timedelta(minutes=30)
        for _ in range(5):
            jobs.send_now(jobs.SWEEP)
            run_jobs()
        rows = _rows()
        assert {r.status for r in rows} == {TransactionalStatus.queued}
        assert {r.attempts for r in rows} == {0}  # an outage spends no tries
    finally:
        smtp.start()
    jobs.send_now(jobs.SWEEP)  # the server answers: delivery resumes
    run_jobs()
    for email in emails:
        (confirmation,) = smtp.wait_for(email)
        assert confirmation.message["Subject"] == "Please confirm your subscription"
    with session_scope() as session:
        assert not outage.paused(session)
    assert {r.status for r in _rows()} == {TransactionalStatus.sent}


def test_while_delivery_is_paused_no_mail_is_tried_until_the_sweep_resumes_it(
    client, smtp, run_jobs
):
    make_topics()
    with session_scope() as session:
        outage.pause(session, "the server did not answer")
    client.post("/api/v1/subscribe", json={"email": "waits@example.org", "topics": ["food"]})
    run_jobs()
    assert smtp.to("waits@example.org") == []  # the server is up, but nobody tried it
    assert [(r.status, r.attempts) for r in _rows()] == [(TransactionalStatus.queued, 0)]
    jobs.send_now(jobs.SWEEP)  # the server answers: delivery resumes
    run_jobs()
    smtp.wait_for("waits@example.org")
    assert {r.status for r in _rows()} == {TransactionalStatus.sent}


@pytest.mark.postgres
@pytest.mark.redis
def test_a_login_link_arrives_while_a_20000_message_send_runs(client, smtp, run_jobs):
    topic = make_topic("food")
    people.bulk_active(20_000, topic)
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    make_account("staff@member.example.org")
    run_jobs()
    smtp.clear()
    people.start_now(issue)
    deadline = time.monotonic() + 120
    while len(smtp.messages) < 1000:  # only newsletter mail so far
        assert time.monotonic() < deadline, "the send made no progress"
        time.sleep(0.05)
    token = csrf(client)
    client.post("/login", data={"email": "staff@member.example.org", "csrf_token": token})
    (link,) = smtp.wait_for("staff@member.example.org", timeout=60)
    sent_before = len(smtp.messages) - 1
    with session_scope() as session:
        assert session.get(Issue, issue.id).status == IssueStatus.sending
    assert sent_before < 20_000  # the link did not wait for the send
    assert "/login/link?token=" in link.text()
    with session_scope() as session:  # the rest of the send proves nothing more: stop it
        lifecycle.cancel(session, session.get(Issue, issue.id))
    run_jobs()  # the batches in flight end before the next test empties the tables


def _try_now(email_id: int, transport) -> mail.Outcome | None:
    """One try, as the job makes it, without waiting for the backoff."""
    with session_scope() as session:
        session.get(TransactionalEmail, email_id).next_attempt_at = utcnow()
    with session_scope() as session:
        claimed = mail.claim(session, email_id)
    if claimed is None:
        return None
    outcome = mail.send_claimed(claimed.email, transport)
    with session_scope() as session:
        return mail.record_outcome(session, claimed, outcome)


def test_a_mail_that_keeps_failing_stops_after_its_tries_and_admins_hear_once(
    smtp, run_jobs, worker
):
    from app.config import get_settings
    from app.mailing.transport import make_transport
    from app.members.models import Role

    make_account("admin@club.example.org", role=Role.admin)
    for address in ("flaky@example.org", "shaky@example.org"):
        smtp.handler.rcpt_replies[address] = "451 4.3.0 Try again later"
    worker.pause()  # this test makes each try itself
    transport = make_transport(get_settings())
    try:
        ids = [_queue("flaky@example.org"), _queue("shaky@example.org")]
        waits = []
        for email_id in ids:
            for _ in range(mail.MAX_ATTEMPTS):
                outcome = _try_now(email_id, transport)
                waits.append(outcome.retry_in)
        assert _try_now(ids[0], transport) is None  # failed for good: nothing more to try
    finally:
        transport.close()
        worker.resume()
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert waits[mail.MAX_ATTEMPTS - 1] is None  # the last try schedules no other
    rows = {r.to_address: r for r in _rows()}
    for address in ("flaky@example.org", "shaky@example.org"):
        assert rows[address].status == TransactionalStatus.failed
        assert rows[address].attempts == mail.MAX_ATTEMPTS
        assert rows[address].html == ""  # nothing with a working link is kept
    run_jobs()
    (alert,) = smtp.wait_for("admin@club.example.org")  # once, for both
    assert "could not be delivered" in alert.message["Subject"]


def test_rows_past_the_retention_time_are_deleted(smtp, run_jobs):
    old, recent = _queue("old@example.org"), _queue("recent@example.org")
    run_jobs()
    with session_scope() as session:
        row = session.get(TransactionalEmail, old)
        row.created_at -= timedelta(days=8)  # the default keeps rows 7 days
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    assert [r.id for r in _rows()] == [recent]
