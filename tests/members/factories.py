"""Plain functions that put members, accounts and keys in place, and log people in over HTTP."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.auth.service import create_api_key, issue_login_link
from app.db import session_scope
from app.members.models import Account, Member, MemberStatus, Role

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_member(slug: str, *, status: MemberStatus = MemberStatus.active, **fields) -> Member:
    fields.setdefault("name", slug.replace("-", " ").title())
    with session_scope() as session:
        member = Member(slug=slug, status=status, **fields)
        session.add(member)
    return member


def make_account(email: str, *, role: Role = Role.owner, member: Member | None = None) -> Account:
    with session_scope() as session:
        account = Account(
            email=email, role=role, member_id=member.id if member else None, display_name=""
        )
        session.add(account)
    return account


def make_key(member: Member, name: str = "Website") -> tuple[int, str]:
    with session_scope() as session:
        key, secret = create_api_key(session, member=member, name=name, created_by=None)
        return key.id, secret


def login_path(account: Account, next_path: str | None = None) -> str:
    with session_scope() as session:
        url = issue_login_link(session, account=account, next_path=next_path)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def csrf(client) -> str:
    """The form token for this client (and, as a side effect, its CSRF cookie)."""
    page = client.get("/login")
    match = CSRF_INPUT.search(page.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


def follow_login_link(client, path: str):
    """What a person does with the emailed link: open it, press "Log in"."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login/link",
        data={"token": token, "csrf_token": CSRF_INPUT.search(page.text).group(1)},
        follow_redirects=False,
    )


def log_in(client, account: Account) -> None:
    response = follow_login_link(client, login_path(account))
    assert response.status_code == 303, response.text


def post_form(client, url: str, data: dict | None = None, **kwargs):
    """POST an HTML form the way the browser would, with the CSRF token."""
    token = csrf_for_logged_in(client)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def csrf_for_logged_in(client) -> str:
    # /login redirects a logged-in person, so read the token from the home page instead.
    page = client.get("/")
    match = CSRF_INPUT.search(page.text)
    if match:
        return match.group(1)
    return csrf(client)
