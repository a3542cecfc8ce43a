"""Composing an issue through the admin pages: blocks, preview, test send, scheduling."""

from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from sqlmodel import select

from app.db import session_scope
from app.members.models import Role
from app.newsletters.models import Issue, IssueBlock, IssueStatus, Newsletter
from tests.members.factories import log_in, make_account, make_member, post_form
from tests.newsletters.factories import make_issue, make_newsletter, make_topic


def _admin(client, email="editor@club.example.org"):
    account = make_account(email, role=Role.admin)
    log_in(client, account)
    return account


def _blocks(issue_id):
    with session_scope() as session:
        return session.exec(
            select(IssueBlock).where(IssueBlock.issue_id == issue_id).order_by(IssueBlock.position)
        ).all()


def _issue(issue_id) -> Issue:
    with session_scope() as session:
        return session.get(Issue, issue_id)


class _LinkCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href", ""))


def test_an_admin_composes_previews_and_schedules_an_issue(client, smtp, run_jobs):
    topic = make_topic("food-co-ops", "Food co-ops")
    _admin(client)
    response = post_form(
        client,
        "/admin/newsletters/new",
        {
            "name": "The Co-op Commons",
            "slug": "commons",
            "description": "Monthly news",
            "sender_name": "Co-op Data Club",
            "sender_address": "news@club.example.org",
            "topics": [str(topic.id)],
            "sponsor_slots": "1",
            "sponsor_price": "250.00",
            "classified_slots": "1",
            "classified_price": "50",
            "currency": "cad",
            "template": "newsletter",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    newsletter_url = response.headers["location"]
    response = post_form(
        client,
        f"{newsletter_url}/issues",
        {"subject": "Spring at the co-ops"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    issue_id = int(response.headers["location"].rsplit("/", 1)[1])
    blocks = _blocks(issue_id)
    assert [b.kind.value for b in blocks] == ["text", "sponsor", "text", "classified"]
    intro, _, body, _ = blocks
    form = {
        "subject": "Spring at the co-ops",
        "preheader": "Seeds, solar and savings",
        f"block-{intro.id}-body": "Hello from the **Club**.",
        f"block-{body.id}-heading": "Riverside opens a second store",
        f"block-{body.id}-body": "Read [the story](https://riverside.example.org/news).",
    }
    assert (
        post_form(client, f"/admin/issues/{issue_id}", form, follow_redirects=False).status_code
        == 303
    )

    # The live preview renders the unsaved form and stores nothing.
    preview = post_form(
        client,
        f"/admin/issues/{issue_id}/preview",
        {**form, f"block-{intro.id}-body": "Unsaved words"},
    )
    assert "Unsaved words" in preview.json()["html"]
    assert "Unsaved words" in preview.json()["text"]
    assert _blocks(issue_id)[0].body == "Hello from the **Club**."

    editor = client.get(f"/admin/issues/{issue_id}")
    assert editor.status_code == 200 and "Riverside opens a second store" in editor.text
    html = client.get(f"/admin/issues/{issue_id}/preview.html").text
    links = _LinkCollector()
    links.feed(html)
    assert any("unsubscribe" in h for h in links.hrefs)
    assert any("preferences" in h for h in links.hrefs)
    assert "1 Commons Lane" in html or "Commons Lane" in html  # the postal address

    # "Send a test to me" arrives with the same content in both parts.
    assert (
        post_form(client, f"/admin/issues/{issue_id}/test", follow_redirects=False).status_code
        == 303
    )
    run_jobs()
    (test,) = smtp.wait_for("editor@club.example.org")
    assert test.message["Subject"] == "[Test] Spring at the co-ops"
    for part in (test.html(), test.text()):
        assert "Riverside opens a second store" in part
        assert "https://riverside.example.org/news" in part
    assert "Hello from the Club." in test.text()

    # Scheduling in the admin's timezone freezes the content.
    when = (datetime.now(ZoneInfo("America/Toronto")) + timedelta(days=2)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    response = post_form(
        client,
        f"/admin/issues/{issue_id}/schedule",
        {"when": when, "timezone": "America/Toronto"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    issue = _issue(issue_id)
    assert issue.status == IssueStatus.scheduled and issue.timezone == "America/Toronto"
    expected = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo("America/Toronto"))
    assert issue.scheduled_at == expected
    assert "Riverside opens a second store" in issue.compiled_html
    assert "Riverside opens a second store" in issue.compiled_text
    edit = post_form(client, f"/admin/issues/{issue_id}", {**form, "subject": "Changed"})
    assert edit.status_code == 409
    assert _issue(issue_id).subject == "Spring at the co-ops"


def test_scheduling_refuses_the_past_no_topics_and_empty_required_blocks(client):
    _admin(client)
    topic = make_topic("housing")
    lonely = make_issue(make_newsletter("lonely", topics=[]))
    future = (datetime.now(ZoneInfo("UTC")) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = post_form(
        client, f"/admin/issues/{lonely.id}/schedule", {"when": future, "timezone": "UTC"}
    )
    assert response.status_code == 422 and "no topics" in response.text

    issue = make_issue(make_newsletter("housing-news", topics=[topic]))
    past = (datetime.now(ZoneInfo("UTC")) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = post_form(
        client, f"/admin/issues/{issue.id}/schedule", {"when": past, "timezone": "UTC"}
    )
    assert response.status_code == 422 and "already passed" in response.text
    response = post_form(
        client, f"/admin/issues/{issue.id}/schedule", {"when": future, "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 422 and "unknown timezone" in response.text

    empty = make_issue(make_newsletter("empty", topics=[topic]), intro="")
    response = post_form(
        client, f"/admin/issues/{empty.id}/schedule", {"when": future, "timezone": "UTC"}
    )
    assert response.status_code == 422 and "this block is required" in response.text
    for issue_id in (lonely.id, issue.id, empty.id):
        assert _issue(issue_id).status == IssueStatus.draft


def test_problems_show_next_to_their_block_and_nothing_typed_is_lost(client):
    _admin(client)
    issue = make_issue(make_newsletter("commons", topics=[make_topic("food")]))
    post_form(client, f"/admin/issues/{issue.id}/blocks", {"kind": "image"})
    image = _blocks(issue.id)[-1]
    response = post_form(
        client,
        f"/admin/issues/{issue.id}",
        {
            "subject": "Spring",
            f"block-{image.id}-url": "http://insecure.example.org/a.png",
            f"block-{image.id}-alt": "A field",
        },
    )
    assert response.status_code == 422
    block_html = response.text.split(f'id="block-{image.id}"', 1)[1].split("</fieldset>", 1)[0]
    assert "an image needs an https:// address" in block_html
    assert 'value="http://insecure.example.org/a.png"' in block_html
    assert _blocks(issue.id)[-1].url == "http://insecure.example.org/a.png"


def test_newsletter_form_marks_bad_fields_and_keeps_input(client):
    _admin(client)
    make_newsletter("taken")
    response = post_form(
        client,
        "/admin/newsletters/new",
        {
            "name": "Another",
            "slug": "taken",
            "sender_name": "Club",
            "sender_address": "not-an-address",
            "currency": "CAD",
        },
    )
    assert response.status_code == 422
    assert 'aria-invalid="true" aria-describedby="e-sender_address"' in response.text
    assert 'value="Another"' in response.text
    with session_scope() as session:
        assert len(session.exec(select(Newsletter)).all()) == 1
    response = post_form(
        client,
        "/admin/newsletters/new",
        {
            "name": "Another",
            "slug": "taken",
            "sender_name": "Club",
            "sender_address": "news@club.example.org",
            "currency": "CAD",
        },
    )
    assert response.status_code == 422 and "already uses this slug" in response.text


def test_member_staff_and_owners_cannot_reach_the_editor(client):
    issue = make_issue(make_newsletter("commons", topics=[make_topic("food")]))
    member = make_member("riverside")
    for role in (Role.staff, Role.owner):
        client.cookies.clear()
        log_in(
            client, make_account(f"{role.value}@riverside.example.org", role=role, member=member)
        )
        for path in (
            "/admin/newsletters",
            f"/admin/issues/{issue.id}",
            f"/admin/issues/{issue.id}/preview.html",
        ):
            assert client.get(path).status_code == 403, path
        response = post_form(client, f"/admin/issues/{issue.id}", {"subject": "Hijacked"})
        assert response.status_code == 403
    assert _issue(issue.id).subject == "Spring at the co-ops"
    client.cookies.clear()
    anonymous = client.get(f"/admin/issues/{issue.id}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_a_sender_domain_the_club_does_not_sign_for_is_refused(client):
    _admin(client)
    make_newsletter("taken")
    response = post_form(
        client,
        "/admin/newsletters/new",
        {
            "name": "Elsewhere",
            "slug": "taken",
            "sender_name": "Club",
            "sender_address": "news@elsewhere.example",
            "currency": "CAD",
        },
    )
    assert response.status_code == 422
    assert 'aria-invalid="true" aria-describedby="e-sender_address"' in response.text
    assert "does not sign mail for elsewhere.example" in response.text
    assert "already uses this slug" in response.text  # every problem at once
    assert 'value="news@elsewhere.example"' in response.text
    with session_scope() as session:
        assert len(session.exec(select(Newsletter)).all()) == 1
