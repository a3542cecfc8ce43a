"""Irreversible actions ask first: an unconfirmed POST (no JavaScript, a stale page, a
script) gets a confirmation page and changes nothing; submitting that page's form, as a
browser without JavaScript would, does the action."""

from __future__ import annotations

import re
from html import unescape

from sqlmodel import select

from app.auth.models import ApiKey
from app.db import session_scope
from app.members.models import Member, MemberStatus, Role
from app.newsletters.models import Issue, IssueStatus
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus
from app.subscribers.service import preferences_token
from tests.members.factories import log_in, make_account, make_key, make_member, post_form
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people

FORM = re.compile(r'<form method="post" action="([^"]+)" class="actions">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def confirm_page_form(html: str) -> tuple[str, list[tuple[str, str]]]:
    """The confirmation page's form: where it posts and every field it sends."""
    match = FORM.search(html)
    assert match, "no confirmation form on the page"
    fields = [(unescape(n), unescape(v)) for n, v in HIDDEN.findall(match.group(2))]
    return unescape(match.group(1)), fields


def press_confirm(client, html: str):
    action, fields = confirm_page_form(html)
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return client.post(action, data=data, follow_redirects=False)


def test_start_sending_asks_with_the_audience_count_then_starts(client, run_jobs):
    topic = make_topic("food")
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        people.active(email, [topic])
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    page = client.get(f"/admin/issues/{issue.id}/sending")
    assert 'data-confirm="Send “' in page.text and "to 3 people now?" in page.text

    asked = post_form(client, f"/admin/issues/{issue.id}/sending", {"action": "start"})
    assert asked.status_code == 200
    assert "to 3 people now?" in asked.text and "Start sending to 3 people" in asked.text
    with session_scope() as session:
        assert session.get(Issue, issue.id).status == IssueStatus.scheduled

    _, fields = confirm_page_form(asked.text)
    assert ("action", "start") in fields and ("confirmed", "yes") in fields
    done = press_confirm(client, asked.text)
    assert done.status_code == 303
    run_jobs()  # the send runs to its end before the test's tables are emptied
    with session_scope() as session:
        # The worker may already have sent all three by now.
        assert session.get(Issue, issue.id).status in (IssueStatus.sending, IssueStatus.sent)


def test_cancelling_an_issue_asks_first(client):
    topic = make_topic("food")
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    asked = post_form(client, f"/admin/issues/{issue.id}/sending", {"action": "cancel"})
    assert "for good?" in asked.text
    with session_scope() as session:
        assert session.get(Issue, issue.id).status == IssueStatus.scheduled
    assert press_confirm(client, asked.text).status_code == 303
    with session_scope() as session:
        assert session.get(Issue, issue.id).status == IssueStatus.cancelled


def test_suspending_a_member_asks_first(client, smtp, run_jobs):
    member = make_member("riverside-food", name="Riverside Food")
    make_account("owner@riverside.example.org", member=member)
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    assert "Suspend Riverside Food?" in client.get(f"/admin/members/{member.id}").text
    asked = post_form(client, f"/admin/members/{member.id}/suspend")
    assert asked.status_code == 200 and "Suspend Riverside Food?" in asked.text
    run_jobs()
    assert smtp.messages == []  # nothing happened, nobody was emailed
    with session_scope() as session:
        assert session.get(Member, member.id).status == MemberStatus.active
    assert press_confirm(client, asked.text).status_code == 303
    with session_scope() as session:
        assert session.get(Member, member.id).status == MemberStatus.suspended
    # Reactivating is reversible: it does not ask.
    back = post_form(client, f"/admin/members/{member.id}/reactivate", follow_redirects=False)
    assert back.status_code == 303


def test_revoking_an_api_key_asks_first(client):
    member = make_member("northwind")
    key_id, _secret = make_key(member, name="Website signup")
    log_in(client, make_account("owner@northwind.example.org", member=member))
    asked = post_form(client, f"/member/keys/{key_id}/revoke")
    assert "Revoke the key “Website signup”?" in asked.text
    with session_scope() as session:
        assert session.get(ApiKey, key_id).revoked_at is None
    assert press_confirm(client, asked.text).status_code == 303
    with session_scope() as session:
        assert session.get(ApiKey, key_id).revoked_at is not None


def test_unsubscribing_from_everything_asks_first_and_keeps_the_choice(client):
    topic = make_topic("food")
    subscriber = people.active("p@example.org", [topic])
    token = preferences_token(subscriber)
    page = client.get(f"/preferences/{token}")
    assert 'data-confirm="Unsubscribe from everything?"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    asked = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf, "action": "unsubscribe_all", "topics": str(topic.id)},
    )
    assert asked.status_code == 200 and "Unsubscribe from everything?" in asked.text

    def status() -> SubscriptionStatus:
        with session_scope() as session:
            row = session.exec(
                select(Subscription).join(Subscriber).where(Subscriber.email == "p@example.org")
            ).one()
            return row.status

    assert status() == SubscriptionStatus.active
    done = press_confirm(client, asked.text)
    assert done.status_code == 200 and "unsubscribed from everything" in done.text
    assert status() == SubscriptionStatus.unsubscribed


def test_the_confirmation_page_repeats_fields_escaped(client):
    member = make_member("northwind")
    key_id, _ = make_key(member, name='Site "<b>"')
    log_in(client, make_account("owner@northwind.example.org", member=member))
    asked = post_form(client, f"/member/keys/{key_id}/revoke", {"note": '"><script>x</script>'})
    assert "<script>x" not in asked.text
    _, fields = confirm_page_form(asked.text)
    assert ("note", '"><script>x</script>') in fields
    assert "Revoke the key “Site &#34;&lt;b&gt;&#34;”?" in asked.text
