"""Admins start, pause, resume and cancel; the scheduler starts due issues; progress."""

from datetime import timedelta

from sqlmodel import select

from app import jobs
from app.config import get_settings
from app.db import session_scope, utcnow
from app.members.models import Role
from app.newsletters.models import Issue, IssueStatus
from app.sending.models import Delivery, DeliveryStatus
from app.sending.throttle import SendThrottle
from tests.members.factories import log_in, make_account, post_form
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people


def _issue(issue_id) -> Issue:
    with session_scope() as session:
        return session.get(Issue, issue_id)


def _scheduled(*emails, topic_slug="food"):
    topic = make_topic(topic_slug)
    for email in emails:
        people.active(email, [topic])
    return schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))


def test_admin_starts_watches_and_finds_it_sent(client, smtp, run_jobs):
    issue = _scheduled("a@example.org", "b@example.org")
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    page = client.get(f"/admin/issues/{issue.id}/sending")
    assert page.status_code == 200 and "Start sending now" in page.text
    response = post_form(
        client,
        f"/admin/issues/{issue.id}/sending",
        {"action": "start", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    run_jobs()
    progress = client.get(f"/admin/issues/{issue.id}/progress.json").json()
    assert progress["status"] == "sent" and progress["percent"] == 100.0
    assert progress["counts"]["sent"] == 2
    log = client.get(f"/admin/issues/{issue.id}/sending?status=sent")
    assert "a@example.org" in log.text and "b@example.org" in log.text
    assert client.get(f"/admin/issues/{issue.id}/sending?status=bogus").status_code == 422
    # Illegal moves are refused with 409 and change nothing.
    assert (
        post_form(client, f"/admin/issues/{issue.id}/sending", {"action": "pause"}).status_code
        == 409
    )
    assert _issue(issue.id).status == IssueStatus.sent


def test_cancel_stops_what_has_not_gone(client, smtp, run_jobs):
    issue = _scheduled("a@example.org", "b@example.org")
    run_jobs()
    smtp.clear()
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    with session_scope() as session:
        from app.sending import lifecycle

        row = session.get(Issue, issue.id)
        lifecycle.start(session, row)
        lifecycle.pause(session, row)
    run_jobs()
    assert (
        post_form(
            client,
            f"/admin/issues/{issue.id}/sending",
            {"action": "cancel", "confirmed": "yes"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    run_jobs()
    assert [m for m in smtp.messages if m.message["List-Id"]] == []
    with session_scope() as session:
        statuses = {d.status for d in session.exec(select(Delivery)).all()}
    assert statuses == {DeliveryStatus.cancelled}
    assert _issue(issue.id).status == IssueStatus.cancelled


def test_the_sweep_starts_issues_whose_time_has_come(smtp, run_jobs):
    issue = _scheduled("a@example.org")
    run_jobs()
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    assert _issue(issue.id).status == IssueStatus.scheduled  # not yet: an hour to go
    with session_scope() as session:
        session.get(Issue, issue.id).scheduled_at = utcnow() - timedelta(seconds=1)
    jobs.send_now(jobs.SWEEP)
    run_jobs()
    assert _issue(issue.id).status == IssueStatus.sent
    assert smtp.to("a@example.org")


def test_a_run_of_refusals_pauses_the_issue_and_tells_the_admins(smtp, run_jobs, monkeypatch):
    monkeypatch.setattr(get_settings(), "failure_streak_limit", 2)
    monkeypatch.setattr(get_settings(), "send_batch_size", 1)
    make_account("admin@club.example.org", role=Role.admin)
    issue = _scheduled("x1@example.org", "x2@example.org", "x3@example.org")
    run_jobs()
    smtp.clear()
    for n in (1, 2, 3):
        smtp.handler.rcpt_replies[f"x{n}@example.org"] = "550 5.7.1 Sender rejected"
    people.start_now(issue)
    run_jobs()
    row = _issue(issue.id)
    assert row.status == IssueStatus.paused and row.paused_by == "failures"
    assert "2 messages in a row were refused" in row.pause_reason
    (alert,) = smtp.wait_for("admin@club.example.org")
    assert "Sending paused" in alert.message["Subject"]


def test_domain_concurrency_is_shared_between_throttles(monkeypatch):
    monkeypatch.setattr(get_settings(), "send_domain_concurrency", 1)
    first, second = SendThrottle(get_settings()), SendThrottle(get_settings())
    assert first.admit("example.org") is True
    assert second.admit("example.org", wait=0) is False  # another batch must wait
    assert second.admit("example.net", wait=0) is True
    first.done("example.org")  # a slot is held for one message, not for the batch
    first.done("example.org")  # giving it back twice frees nothing more
    assert second.admit("example.org", wait=0) is True
    assert first.admit("example.org", wait=0) is False  # never more than the limit
    second.close()
    assert first.admit("example.org", wait=0) is True
    first.close()
