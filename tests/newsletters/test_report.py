"""The per-issue report: an issue sent through the real pipeline to an SMTP sink, then
a hard bounce, a complaint, an unsubscribe from the email's own link and two clicks on
its sponsored link; the report page counts each, and draws them over time."""

from __future__ import annotations

import re

from sqlmodel import select

from app.config import get_settings
from app.db import session_scope
from app.marketplace.models import BookingStatus
from app.subscribers.models import Topic
from tests.admin.helpers import as_admin
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import make_member
from tests.sending import factories as people
from tests.sending.test_bounces import ARF, DSN, SECRET


def figures(page: str) -> dict[str, int]:
    return {
        name: int(value.replace(",", ""))
        for name, value in re.findall(r'data-figure="(\w+)">([\d,]+)<', page)
    }


def _bounce(client, raw: str) -> None:
    response = client.post(
        "/webhooks/bounces",
        content=raw.encode(),
        headers={"content-type": "message/rfc822", "x-bounce-secret": SECRET},
    )
    assert response.status_code == 202, response.text


def test_the_report_counts_a_real_send(client, smtp, run_jobs, monkeypatch):
    monkeypatch.setattr(get_settings(), "bounce_webhook_secret", SECRET)
    issue, slots = make_slots()
    make_booking(
        make_member("riverside", name="Riverside Food Co-op"), slots[0], upto=BookingStatus.approved
    )

    with session_scope() as session:
        topic = session.exec(select(Topic).where(Topic.slug == "commons-topic")).one()
    names = ("ana", "bo", "hard", "angry", "leaver")
    for name in names:
        people.active(f"{name}@example.org", [topic])
    run_jobs()
    smtp.clear()
    people.start_now(issue)
    run_jobs()
    mail = {m.rcpt_tos[0]: m for m in smtp.messages if m.message["List-Id"]}
    assert sorted(mail) == sorted(f"{n}@example.org" for n in names)

    _bounce(
        client,
        DSN.format(
            verp=mail["hard@example.org"].mail_from,
            address="hard@example.org",
            action="failed",
            status="5.1.1",
            code=550,
        ),
    )
    _bounce(
        client, ARF.format(verp=mail["angry@example.org"].mail_from, address="angry@example.org")
    )
    unsubscribe = mail["leaver@example.org"].message["List-Unsubscribe"].strip("<>")
    assert client.post(unsubscribe.replace("http://testserver", "")).status_code == 200
    [click] = set(re.findall(r"http://testserver(/r/[\w.-]+)", mail["ana@example.org"].text()))
    for _ in range(2):
        assert client.get(click, follow_redirects=False).status_code == 303

    as_admin(client)
    sending = client.get(f"/admin/issues/{issue.id}/sending").text
    assert f'href="/admin/issues/{issue.id}/report"' in sending
    page = client.get(f"/admin/issues/{issue.id}/report").text
    assert figures(page) == {
        "recipients": 5,
        "delivered": 3,  # ana, bo and the leaver: accepted, and no report came back
        "failed": 0,
        "bounced": 1,
        "soft_bounced": 0,
        "complaints": 1,
        "unsubscribes": 1,  # the complaint withdrew too, but is counted as a complaint
        "clicks": 2,
    }
    assert "Riverside Food Co-op: " + CREATIVE["headline"] in page
    assert CREATIVE["link"] in page
    assert 'role="img" aria-label="This issue over time"' in page
    legend = dict(re.findall(r"</span>([^<:]+): <strong>(\d+)</strong></li>", page))
    assert legend == {
        "Accepted by the receiving server": "5",
        "Bounced": "1",
        "Complaints": "1",
        "Unsubscribed": "1",
    }
    assert 'style="' not in page
    assert "ana@example.org" not in page  # counts only


def test_before_sending_the_report_says_so_and_draws_nothing(client):
    issue, _slots = make_slots()
    as_admin(client)
    page = client.get(f"/admin/issues/{issue.id}/report")
    assert page.status_code == 200 and "Nothing has been sent yet" in page.text
    assert "<svg" not in page.text and figures(page.text) == {}
    assert client.get("/admin/issues/999999/report").status_code == 404


def test_turning_down_a_topic_never_confirmed_is_no_unsubscribe(client, smtp, run_jobs):
    """A reader of the issue who unticks a topic they never confirmed (a request they let
    go) declined it: they withdrew nothing and still receive the newsletter."""
    from app.subscribers.service import preferences_token
    from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
    from tests.subscribers.helpers import hidden

    kept, asked = make_topic("commons-topic"), make_topic("commons-extra")
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[kept, asked])))
    reader = people.active("reader@example.org", [kept])
    people.pending("reader@example.org", [asked])  # asked, never confirmed
    run_jobs()
    smtp.clear()
    people.start_now(issue)
    run_jobs()
    assert [m.rcpt_tos[0] for m in smtp.messages if m.message["List-Id"]] == ["reader@example.org"]

    url = f"/preferences/{preferences_token(reader)}"
    page = client.get(url)
    form = {"csrf_token": hidden(page.text, "csrf_token"), "action": "save", "topics": [kept.id]}
    assert client.post(url, data=form).status_code == 200

    as_admin(client)
    page = client.get(f"/admin/issues/{issue.id}/report").text
    assert figures(page)["unsubscribes"] == 0
