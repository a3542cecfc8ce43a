"""Exactly once under the send pipeline's faults: a batch that outlives its claim lease
is not sent twice, a busy recipient domain defers messages without failing them, and a
message that cannot be built fails after its tries with one alert to the admins."""

import time
from collections import Counter

from sqlmodel import select

from app import jobs
from app.config import get_settings
from app.db import session_scope
from app.mailing.transport import make_transport
from app.members.models import Role
from app.newsletters.models import Issue, IssueStatus
from app.sending import assembly, batches
from app.sending.models import Delivery, DeliveryStatus
from app.sending.throttle import SendThrottle
from tests.members.factories import make_account
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people


def _newsletter_mail(smtp):
    return Counter(r for m in smtp.messages if m.message["List-Id"] for r in m.rcpt_tos)


def _deliveries(issue_id):
    with session_scope() as session:
        return session.exec(select(Delivery).where(Delivery.issue_id == issue_id)).all()


def _status(issue_id):
    with session_scope() as session:
        return session.get(Issue, issue_id).status


def _issue_for(count, run_jobs, smtp, prefix="reader"):
    topic = make_topic("food")
    emails = people.bulk_active(count, topic, prefix=prefix)
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    run_jobs()
    smtp.clear()
    return issue, emails


def test_a_batch_longer_than_its_lease_is_sent_once(smtp, run_jobs, monkeypatch):
    # The probe of issue 18: lease 1 s, 4 messages a second, one batch of 12 (3 s),
    # while the sweep looks for lapsed claims again and again.
    settings = get_settings()
    monkeypatch.setattr(settings, "send_claim_lease_seconds", 1.0)
    monkeypatch.setattr(settings, "send_rate_per_second", 4)
    monkeypatch.setattr(settings, "send_batch_size", 12)
    issue, emails = _issue_for(12, run_jobs, smtp)
    people.start_now(issue)
    deadline = time.monotonic() + 60
    while _status(issue.id) != IssueStatus.sent:
        assert time.monotonic() < deadline, "the issue did not finish"
        jobs.send_now(jobs.SWEEP)
        time.sleep(0.2)
    run_jobs()
    received = _newsletter_mail(smtp)
    assert set(received) == set(emails)
    assert [r for r, n in received.items() if n > 1] == []  # no duplicates
    assert {d.status for d in _deliveries(issue.id)} == {DeliveryStatus.sent}


def test_a_busy_domain_defers_without_failing_anyone(smtp, run_jobs, worker, monkeypatch):
    # The throttle probe: another batch holds the only slot for example.org for longer
    # than every try a delivery has; nobody fails without an SMTP attempt.
    settings = get_settings()
    monkeypatch.setattr(settings, "send_domain_concurrency", 1)
    monkeypatch.setattr(settings, "send_retry_delay_seconds", 0.05)
    issue, emails = _issue_for(5, run_jobs, smtp)
    other_batch = SendThrottle(settings)
    assert other_batch.admit("example.org")
    worker.pause()  # this test runs the batch itself, round after round
    try:
        people.start_now(issue)
        assembly.assemble(session_scope, issue.id)
        transport = make_transport(settings)
        for _ in range(batches.MAX_ATTEMPTS + 2):
            outcome = batches.run_batch(issue.id, 1, transport)
            assert outcome.sent == 0 and outcome.failed == 0 and len(outcome.deferred) == 5
        rows = _deliveries(issue.id)
        assert {d.status for d in rows} == {DeliveryStatus.queued}
        assert {d.attempts for d in rows} == {0}  # deferrals are not attempts
        other_batch.done("example.org")
        outcome = batches.run_batch(issue.id, 1, transport)
        assert outcome.sent == 5
        transport.close()
    finally:
        other_batch.close()
        worker.resume()
    run_jobs()
    assert _newsletter_mail(smtp) == Counter(emails)
    assert _status(issue.id) == IssueStatus.sent


def test_a_message_that_cannot_be_built_fails_after_its_tries_and_admins_hear_once(
    smtp, run_jobs, monkeypatch
):
    monkeypatch.setattr(get_settings(), "send_retry_delay_seconds", 0.05)
    monkeypatch.setattr(get_settings(), "send_batch_size", 2)
    make_account("admin@club.example.org", role=Role.admin)
    issue, emails = _issue_for(4, run_jobs, smtp)
    with session_scope() as session:
        frozen = session.get(Issue, issue.id)
        frozen.compiled_html = "<p>{% if %}</p>"  # content no template engine can read
    people.start_now(issue)
    run_jobs()
    rows = _deliveries(issue.id)
    assert {d.status for d in rows} == {DeliveryStatus.failed}
    assert {d.attempts for d in rows} == {batches.MAX_ATTEMPTS}
    assert all(d.error.startswith("gave up after 5 tries") for d in rows)
    assert _newsletter_mail(smtp) == Counter()
    (alert,) = smtp.wait_for("admin@club.example.org")
    assert "could not be sent" in alert.message["Subject"]
    run_jobs()
    assert len(smtp.to("admin@club.example.org")) == 1  # told once, for both batches
