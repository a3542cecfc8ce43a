"""Hostile content stays inert wherever it is shown (pages and emails), and secrets
never reach the logs, including a real web server's access log."""

from __future__ import annotations

import logging
import re

import httpx
from sqlmodel import select

from app.auth.service import API_KEY_PREFIX
from app.db import session_scope
from app.members.models import Member
from app.newsletters.models import IssueBlock
from app.subscribers.models import Topic
from tests.members.factories import log_in, post_form
from tests.security.test_authorization_matrix import APP
from tests.security.world import build_world, fill_path
from tests.subscribers.helpers import hidden

SCRIPT = "<script>alert('xss')</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"


def assert_inert(html: str, where: str) -> None:
    assert "<script>alert" not in html, where
    assert not re.search(r"<img[^>]*\bonerror\s*=", html, re.IGNORECASE), where
    real_tag_with_js_url = r"""<[a-z][^<>]*\s(href|src)\s*=\s*["']?\s*javascript:"""
    assert not re.search(real_tag_with_js_url, html, re.IGNORECASE), where


def test_stored_xss_stays_inert_in_pages_and_emails(client, smtp, run_jobs):
    world = build_world()
    # A member's profile, typed by its owner.
    log_in(client, world.accounts["a_owner"])
    saved = post_form(
        client,
        "/member/profile",
        {
            "name": f"Evil {SCRIPT}",
            "description": f"We {ATTRIBUTE} sell {SCRIPT}",
            "website": JS_URL,
            "logo_url": JS_URL,
            "kind": SCRIPT,
            "region": ATTRIBUTE,
        },
        follow_redirects=False,
    )
    assert saved.status_code in (303, 422)
    if saved.status_code == 422:  # URLs refused: keep the text fields, drop the URLs
        saved = post_form(
            client,
            "/member/profile",
            {"name": f"Evil {SCRIPT}", "description": f"We {ATTRIBUTE} sell {SCRIPT}"},
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text[:300]
    with session_scope() as session:
        member = session.exec(select(Member).where(Member.slug == "member-a")).one()
        assert SCRIPT in member.name  # stored as typed: escaping is the page's job
        # A topic named by a member (topics carry a member's words into pages and mail).
        topic = session.exec(select(Topic).where(Topic.slug == "food")).one()
        topic.name = f"Food {SCRIPT}{ATTRIBUTE}"
        # The newsletter's editorial Markdown, with raw HTML and a javascript: link.
        block = session.exec(
            select(IssueBlock).where(IssueBlock.issue_id == world.ids["issue_id"])
        ).first()
        block.body = f"Hello {SCRIPT}\n\n{ATTRIBUTE}\n\n[click]({JS_URL}) <a href='{JS_URL}'>x</a>"
    pages = {
        "/members": None,
        "/members/member-a": None,
        "/topics": None,
        "/subscribe": None,
        "/subscribe/embed/riverside": None,
        "/member": None,
    }
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        assert_inert(page.text, url)
    assert "&lt;script&gt;" in client.get("/members/member-a").text

    admin = type(client)(APP)
    log_in(admin, world.accounts["admin"])
    for url in ("/admin/issues/{issue_id}", "/admin/issues/{issue_id}/preview.html"):
        page = admin.get(fill_path(url, world, None))
        assert page.status_code == 200, url
        assert_inert(page.text, url)
    # The emails: a confirmation (topic names) and the issue's test copy (Markdown).
    client.post("/api/v1/subscribe", json={"email": "fresh@example.org", "topics": ["food"]})
    editor = admin.get(fill_path("/admin/issues/{issue_id}", world, None))
    admin.post(
        fill_path("/admin/issues/{issue_id}/test", world, None),
        data={"csrf_token": hidden(editor.text, "csrf_token")},
    )
    run_jobs()
    for address in ("fresh@example.org", "admin@club.example.org"):
        (mail,) = smtp.wait_for(address)
        assert_inert(mail.html(), f"mail to {address}")


def test_no_secret_or_address_reaches_the_logs(live_server, smtp, run_jobs, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    world = build_world()
    secrets_seen: list[str] = []
    http = httpx.Client(base_url=live_server, follow_redirects=False)
    # Login by emailed link.
    login_page = http.get("/login")
    csrf = hidden(login_page.text, "csrf_token")
    owner = world.accounts["a_owner"].email
    http.post("/login", data={"email": owner, "csrf_token": csrf})
    run_jobs()
    # The world also mails the owner about its bookings and sharing: find the login link.
    (link,) = [
        found.group(1)
        for mail in smtp.wait_for(owner)
        if (found := re.search(r"http://testserver(/login/link\?token=[\w.\-]+)", mail.text()))
    ]
    secrets_seen.append(link.split("=", 1)[1])
    page = http.get(link)
    done = http.post(
        "/login/link",
        data={"token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token")},
    )
    assert done.status_code == 303
    secrets_seen.append(http.cookies["coopclub_session"])
    secrets_seen.append(csrf)
    # An API key created on the dashboard; its secret is shown once.
    dashboard = http.get("/member")
    created = http.post(
        "/member/keys",
        data={"name": "Logged?", "csrf_token": hidden(dashboard.text, "csrf_token")},
        follow_redirects=True,
    )
    key = re.search(rf"({API_KEY_PREFIX}[\w-]+)", created.text)
    assert key, created.text[:500]
    secrets_seen.append(key.group(1))
    assert (
        http.get("/api/v1/keys", headers={"Authorization": f"Bearer {key.group(1)}"}).status_code
        == 200
    )
    # A signup, its confirmation link, and the subscriber's other links.
    signup_address = "private.person@example.org"
    http.post("/api/v1/subscribe", json={"email": signup_address, "topics": ["food"]})
    run_jobs()
    (confirmation,) = smtp.wait_for(signup_address)
    confirm_path = re.search(r"http://testserver(/confirm/[\w.\-]+)", confirmation.text()).group(1)
    secrets_seen.append(confirm_path.rsplit("/", 1)[1])
    http.get(confirm_path)
    for prefix, token in world.tokens.items():
        if prefix == "/sharing/stop/":
            http.get(fill_path("/sharing/stop/{member_id}/{token}", world, token))
        elif prefix != "/sharing/stop-all/":  # a POST only, with the preferences token
            http.get(prefix + token)
        secrets_seen.append(token)
    addresses = [owner, signup_address, "reader@example.org"]

    # The test's own HTTP client (httpx, httpcore) and SMTP sink (aiosmtpd's mail.log)
    # log what they send and receive; they are not part of the product.
    theirs = ("httpx", "httpcore", "mail.log")
    records = [r for r in caplog.records if not r.name.startswith(theirs)]
    assert any(r.name == "uvicorn.access" for r in records), "the access log was not captured"
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    for secret in secrets_seen:
        assert secret not in text, f"a secret reached the logs: {secret[:12]}…"
        # itsdangerous tokens: not even their signature part
        assert secret.rsplit(".", 1)[-1] not in text
    for address in addresses:
        assert address not in text, f"an address reached the logs: {address}"
    assert "[redacted]" in text  # the token-bearing URLs were logged, without their tokens
