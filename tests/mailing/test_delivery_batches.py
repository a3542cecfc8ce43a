"""Messages stored together are delivered by one job: one claim, one connection and one
"sent" for the lot, while each message keeps an outcome of its own, an outage in the
middle of a batch spends no tries and loses nothing, and a batch that runs out of time
hands the rest to a job of their own."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import jobs
from app.db import session_scope
from app.mailing import outage
from app.mailing import service as mail
from app.mailing.models import TransactionalEmail, TransactionalStatus


def _queue_together(addresses: list[str]) -> None:
    """Messages stored in one transaction, as an intake batch stores its confirmations."""
    with session_scope() as session:
        mail.queue_rows(
            session,
            [
                mail.transactional_row(
                    kind="test", to=to, subject="Hello", template="admin_alert", message="Hi"
                )
                for to in addresses
            ],
        )


def _rows() -> dict[str, TransactionalEmail]:
    with session_scope() as session:
        return {row.to_address: row for row in session.exec(select(TransactionalEmail)).all()}


def _waiting() -> int:
    broker = jobs.broker
    if hasattr(broker, "do_qsize"):
        return broker.do_qsize(jobs.TRANSACTIONAL_QUEUE)
    return broker.queues[jobs.TRANSACTIONAL_QUEUE].qsize()


@pytest.fixture
def paused(worker):
    worker.pause()
    yield worker
    worker.resume()


def test_messages_stored_together_go_out_in_jobs_of_twenty_each_with_its_own_outcome(
    paused, smtp, run_jobs
):
    addresses = [f"r{n}@example.org" for n in range(25)]
    smtp.handler.rcpt_replies["r3@example.org"] = "550 5.1.1 No such mailbox"
    jobs.broker.flush(jobs.TRANSACTIONAL_QUEUE)
    _queue_together(addresses)
    assert _waiting() == 2  # 20 and 5
    paused.resume()
    run_jobs()
    for to in addresses:
        if to != "r3@example.org":
            assert len(smtp.wait_for(to)) == 1
    assert smtp.to("r3@example.org") == []
    rows = _rows()
    assert rows["r3@example.org"].status == TransactionalStatus.failed
    assert rows["r3@example.org"].attempts == 1
    sent = [row for to, row in rows.items() if to != "r3@example.org"]
    assert {row.status for row in sent} == {TransactionalStatus.sent}
    assert {row.claim_token for row in sent} == {None}
    assert {row.html for row in sent} == {""}  # no working link kept


def test_an_outage_in_the_middle_of_a_batch_spends_no_tries_and_loses_nothing(smtp, run_jobs):
    addresses = [f"o{n}@example.org" for n in range(4)]
    smtp.stop()
    try:
        _queue_together(addresses)
        run_jobs()  # the first message finds the server down; the batch stops there
        with session_scope() as session:
            assert outage.paused(session)
        rows = _rows().values()
        assert {row.status for row in rows} == {TransactionalStatus.queued}
        assert {row.attempts for row in rows} == {0}
        assert {row.claim_token for row in rows} == {None}
    finally:
        smtp.start()
    jobs.send_now(jobs.SWEEP)  # the server answers: delivery resumes
    run_jobs()
    for to in addresses:
        assert len(smtp.wait_for(to)) == 1
    assert {row.status for row in _rows().values()} == {TransactionalStatus.sent}


def test_a_batch_out_of_time_leaves_the_rest_to_a_job_of_their_own(smtp, run_jobs, monkeypatch):
    monkeypatch.setattr(mail, "DELIVERY_SECONDS", 0)  # each job sends one, then hands on
    addresses = [f"t{n}@example.org" for n in range(3)]
    _queue_together(addresses)
    run_jobs()
    for to in addresses:
        assert len(smtp.wait_for(to)) == 1
    rows = _rows().values()
    assert {row.status for row in rows} == {TransactionalStatus.sent}
    assert {row.attempts for row in rows} == {0}
