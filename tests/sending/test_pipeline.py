"""The send pipeline end to end: the broker runs the actors, mail arrives at a real SMTP
server, and the Delivery ledger says what happened."""

import re
from email.utils import parseaddr

import pytest
from sqlmodel import select

from app.config import get_settings
from app.db import session_scope
from app.newsletters.models import Issue, IssueStatus
from app.sending import lifecycle
from app.sending.models import Delivery, DeliveryStatus
from app.subscribers.models import Subscription, SubscriptionStatus
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people


def wait_until(condition, timeout=15.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def newsletter_mail(smtp):
    return [m for m in smtp.messages if m.message["List-Id"]]


def _issue(issue_id) -> Issue:
    with session_scope() as session:
        return session.get(Issue, issue_id)


def _deliveries(issue_id):
    with session_scope() as session:
        return session.exec(select(Delivery).where(Delivery.issue_id == issue_id)).all()


@pytest.fixture
def audience():
    food, housing, energy = make_topic("food"), make_topic("housing"), make_topic("energy")
    people.active("ana@example.org", [food], first_name="Ana")
    people.active("both@example.org", [food, housing])  # on two topics: one message
    people.active("housing@example.org", [housing])
    people.active("energy-only@example.org", [energy])  # not on this newsletter
    people.pending("pending@example.org", [food])
    people.unsubscribed("gone@example.org", [food])
    people.suppressed("blocked@example.org", [housing])
    newsletter = make_newsletter("commons", topics=[food, housing])
    issue = schedule_soon(make_issue(newsletter, intro="Hello from the Club."))
    return issue


def test_exactly_one_message_per_eligible_person_and_none_to_anyone_else(audience, smtp, run_jobs):
    run_jobs()
    smtp.clear()  # the confirmation mails of the setup
    people.start_now(audience)
    run_jobs()
    received = sorted(r for m in newsletter_mail(smtp) for r in m.rcpt_tos)
    assert received == ["ana@example.org", "both@example.org", "housing@example.org"]
    issue = _issue(audience.id)
    assert issue.status == IssueStatus.sent and issue.sent_at is not None
    assert sorted(d.status.value for d in _deliveries(audience.id)) == ["sent"] * 3
    (ana,) = smtp.to("ana@example.org")
    assert "Hi Ana," in ana.text()


def test_headers_for_one_click_unsubscribe_list_id_and_verp(audience, smtp, run_jobs, client):
    run_jobs()
    smtp.clear()
    people.start_now(audience)
    run_jobs()
    (message,) = smtp.to("both@example.org")
    headers = message.message
    (unsubscribe,) = headers.get_all("List-Unsubscribe")
    assert re.fullmatch(r"<http://testserver/u/[A-Za-z0-9._-]+\?lang=en>", unsubscribe)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == "The Co-op Commons <commons.club.test>"
    # Opaque: no process id, no delivery id; the same for a re-sent copy.
    assert re.fullmatch(r"<[a-z2-7]{24}@club\.example\.org>", headers["Message-ID"])
    assert parseaddr(headers["From"])[1] == "news@club.example.org"
    assert headers["Precedence"] == "bulk"
    assert headers["List-Archive"] == "<http://testserver/archive/commons>"
    assert re.fullmatch(r"<http://testserver/archive/commons/\d+>", headers["Archived-At"])
    assert re.fullmatch(r"\d+:commons:newsletter:coopclub", headers["Feedback-ID"])
    assert headers["Content-Language"] == "en"
    assert all("MIME-Version" not in part for part in message.message.iter_parts())
    match = re.fullmatch(r"bounces\+(\d+)-[0-9a-f]{16}@club\.test", message.mail_from)
    (delivery,) = [
        d
        for d in _deliveries(audience.id)
        if d.status == DeliveryStatus.sent and str(d.id) == match.group(1)
    ]
    # The visible links match the header, and the one-click POST works without cookies.
    assert unsubscribe[1:-1] in message.text() and unsubscribe[1:-1] in message.html()
    client.cookies.clear()
    response = client.post(
        unsubscribe[1:-1].removeprefix("http://testserver"),
        data={"List-Unsubscribe": "One-Click"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    with session_scope() as session:
        statuses = {
            s.status
            for s in session.exec(select(Subscription)).all()
            if s.subscriber_id == delivery.subscriber_id
        }
    assert statuses == {SubscriptionStatus.unsubscribed}  # both of the newsletter's topics


def test_pause_then_resume_delivers_the_rest_without_duplicates(
    audience, smtp, run_jobs, monkeypatch
):
    monkeypatch.setattr(get_settings(), "send_batch_size", 1)
    run_jobs()
    smtp.clear()
    with session_scope() as session:
        issue = session.get(Issue, audience.id)
        lifecycle.start(session, issue)
        lifecycle.pause(session, issue)  # before any batch runs
    run_jobs()
    assert newsletter_mail(smtp) == []
    issue = _issue(audience.id)
    assert issue.status == IssueStatus.paused and issue.assembly_done and issue.batches == 3
    with session_scope() as session:
        lifecycle.resume(session, session.get(Issue, audience.id))
    run_jobs()
    received = sorted(r for m in newsletter_mail(smtp) for r in m.rcpt_tos)
    assert received == ["ana@example.org", "both@example.org", "housing@example.org"]
    assert _issue(audience.id).status == IssueStatus.sent


def test_someone_who_unsubscribes_after_assembly_is_skipped(audience, smtp, run_jobs):
    run_jobs()
    smtp.clear()
    with session_scope() as session:
        issue = session.get(Issue, audience.id)
        lifecycle.start(session, issue)
        lifecycle.pause(session, issue)
    run_jobs()  # assembled, nothing sent
    people_left = {"ana@example.org"}
    from app.subscribers import preferences
    from app.subscribers.models import Subscriber

    with session_scope() as session:
        ana = session.exec(select(Subscriber).where(Subscriber.email == "ana@example.org")).one()
        preferences.unsubscribe(session, subscriber=ana, topic_ids=None, token=None)
        lifecycle.resume(session, session.get(Issue, audience.id))
    run_jobs()
    received = {r for m in newsletter_mail(smtp) for r in m.rcpt_tos}
    assert received == {"both@example.org", "housing@example.org"}
    assert not received & people_left
    assert sorted(d.status.value for d in _deliveries(audience.id)) == ["sent", "sent", "skipped"]


def test_a_5xx_fails_the_delivery_and_suppresses_a_4xx_is_retried(
    audience, smtp, run_jobs, monkeypatch
):
    monkeypatch.setattr(get_settings(), "send_retry_delay_seconds", 0.2)
    run_jobs()
    smtp.clear()
    smtp.handler.rcpt_replies["ana@example.org"] = "550 5.1.1 No such mailbox"
    smtp.handler.rcpt_replies_once["housing@example.org"] = "451 4.7.1 Try again later"
    people.start_now(audience)
    run_jobs()
    smtp.wait_for("housing@example.org")  # the retry, a moment later
    run_jobs()
    assert sorted(r for m in newsletter_mail(smtp) for r in m.rcpt_tos) == [
        "both@example.org",
        "housing@example.org",
    ]
    by_status = {d.status.value for d in _deliveries(audience.id)}
    assert by_status == {"sent", "failed"}
    from app.subscribers.service import is_suppressed

    with session_scope() as session:
        assert is_suppressed(session, "ana@example.org")
        assert not is_suppressed(session, "housing@example.org")
    assert _issue(audience.id).status == IssueStatus.sent


def test_an_unreachable_smtp_server_pauses_the_issue_and_the_sweep_resumes_it(
    audience, smtp, run_jobs
):
    from app import jobs
    from app.members.models import Role
    from tests.members.factories import make_account

    make_account("admin@club.example.org", role=Role.admin)
    run_jobs()
    smtp.clear()
    smtp.stop()
    try:
        people.start_now(audience)
        # Not run_jobs(): the admins' alert keeps retrying while the server is down.
        wait_until(lambda: _issue(audience.id).status == IssueStatus.paused)
        issue = _issue(audience.id)
        assert issue.paused_by == "smtp" and "could not be reached" in issue.pause_reason
        assert lifecycle.smtp_answers() is False  # so the sweep leaves it paused
    finally:
        smtp.start()
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    assert _issue(audience.id).status == IssueStatus.sent
    assert sorted(r for m in newsletter_mail(smtp) for r in m.rcpt_tos) == [
        "ana@example.org",
        "both@example.org",
        "housing@example.org",
    ]
    (alert,) = smtp.wait_for("admin@club.example.org")  # the admins were told why it paused
    assert alert.message["Subject"] == "Sending paused: Spring at the co-ops"
    assert "could not be reached" in alert.text()
