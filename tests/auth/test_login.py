"""Logging in by emailed link, over HTTP and through a real SMTP server."""

import re
import time
from urllib.parse import urlsplit

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlmodel import select

from app import signing
from app.auth.models import AccountSession, LoginNonce
from app.config import get_settings
from app.db import session_scope
from app.members.models import Role
from tests.members.factories import (
    csrf,
    follow_login_link,
    log_in,
    login_path,
    make_account,
    make_member,
    post_form,
)


def request_link(client, email: str, next_path: str = ""):
    return client.post(
        "/login", data={"email": email, "next": next_path, "csrf_token": csrf(client)}
    )


def link_in(received) -> str:
    match = re.search(r"http://testserver(/login/link\?token=\S+)", received.text())
    assert match, received.text()
    return match.group(1)


def sessions() -> list[AccountSession]:
    with session_scope() as session:
        return list(session.exec(select(AccountSession)).all())


def test_the_whole_login_round_trip(client, smtp, run_jobs):
    member = make_member("riverside-food")
    make_account("amara@riverside.example.org", member=member)

    answer = request_link(client, "Amara@Riverside.example.org")
    assert answer.status_code == 200
    assert "Check your email" in answer.text
    run_jobs()
    (received,) = smtp.wait_for("amara@riverside.example.org")
    assert received.message["Subject"] == "Your Co-op Data Club login link"
    path = link_in(received)
    assert path.split("=", 1)[1] in received.html()

    logged_in = follow_login_link(client, path)
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/member"
    cookie = logged_in.headers["set-cookie"]
    assert cookie.startswith("coopclub_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie

    dashboard = client.get("/member")
    assert dashboard.status_code == 200
    assert "Riverside Food" in dashboard.text
    assert "Log out" in client.get("/").text
    assert len(sessions()) == 1
    stolen_cookie = client.cookies.get("coopclub_session")

    bye = post_form(client, "/logout", follow_redirects=False)
    assert bye.status_code == 303
    assert sessions() == []  # ended on the server, not just forgotten by the browser
    client.cookies.set("coopclub_session", stolen_cookie)
    again = client.get("/member", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/login?next=/member"


def test_unknown_and_known_addresses_get_the_same_answer(client, smtp, run_jobs):
    make_account("known@example.org", role=Role.admin)
    known = request_link(client, "known@example.org")
    unknown = request_link(client, "stranger@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@", "X@") == unknown.text.replace("stranger@", "X@")
    run_jobs()
    assert len(smtp.wait_for("known@example.org")) == 1
    assert smtp.to("stranger@example.org") == []


def test_a_malformed_address_is_shown_back_with_the_field_marked(client):
    answer = request_link(client, "not an address")
    assert answer.status_code == 422
    assert 'aria-invalid="true"' in answer.text
    assert 'value="not an address"' in answer.text


def test_a_login_link_works_once(client):
    admin = make_account("admin@club.test", role=Role.admin)
    path = login_path(admin)
    first = follow_login_link(client, path)
    assert first.status_code == 303 and first.headers["location"] == "/admin"

    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as other_browser:
        reused = other_browser.get(path)
        assert reused.status_code == 400
        assert "already used" in reused.text
        token = path.split("token=", 1)[1]
        from urllib.parse import unquote

        replay = other_browser.post(
            "/login/link",
            data={"token": unquote(token), "csrf_token": csrf(other_browser)},
        )
        assert replay.status_code == 400
        assert "already used" in replay.text
        assert "coopclub_session" not in other_browser.cookies


def test_an_expired_login_link_is_refused(client):
    admin = make_account("admin@club.test", role=Role.admin)
    token = urlsplit(login_path(admin)).query.split("token=", 1)[1]
    from urllib.parse import unquote

    payload = signing.unsign(signing.Purpose.login, unquote(token))

    class SixteenMinutesAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 16 * 60

    # The same link as the one mailed, as if it had been signed 16 minutes ago.
    old = URLSafeTimedSerializer(
        get_settings().secret_keys,
        salt=f"coopclub.{signing.Purpose.login.value}",
        signer=SixteenMinutesAgo,
    ).dumps(payload)
    page = client.get("/login/link", params={"token": old})
    assert page.status_code == 400
    assert "expired" in page.text
    used = client.post("/login/link", data={"token": old, "csrf_token": csrf(client)})
    assert used.status_code == 400 and "expired" in used.text
    with session_scope() as session:
        (nonce,) = session.exec(select(LoginNonce)).all()
        assert nonce.used_at is None


def test_tampered_and_foreign_tokens_are_refused(client):
    admin = make_account("admin@club.test", role=Role.admin)
    path = login_path(admin)
    assert client.get(path[:-3] + "abc").status_code == 400
    flash_token = signing.sign(signing.Purpose.flash, {"a": admin.id, "n": "x"})
    assert "not valid" in client.get("/login/link", params={"token": flash_token}).text
    assert client.get("/login/link").status_code == 400


def test_a_page_that_needs_login_sends_you_back_after_it(client):
    member = make_member("northwind")
    owner = make_account("owner@northwind.example.org", member=member)
    bounce = client.get("/member/profile", follow_redirects=False)
    assert bounce.status_code == 303
    assert bounce.headers["location"] == "/login?next=/member/profile"
    landed = follow_login_link(client, login_path(owner, "/member/profile"))
    assert landed.headers["location"] == "/member/profile"
    # Only local paths: a link cannot send someone to another site after login.
    elsewhere = follow_login_link(client, login_path(owner, "//evil.example.org/phish"))
    assert elsewhere.headers["location"] == "/member"


def test_api_routes_answer_401_json_rather_than_redirecting(client):
    response = client.get("/api/v1/member")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_removed_account_cannot_ask_for_or_use_links(client, smtp, run_jobs):
    member = make_member("maple")
    account = make_account("gone@maple.example.org", member=member)
    path = login_path(account)
    with session_scope() as session:
        from app.members.models import Account

        session.get(Account, account.id).active = False
    assert client.get(path).status_code == 400
    request_link(client, "gone@maple.example.org")
    run_jobs()
    assert smtp.to("gone@maple.example.org") == []


def test_admin_nav_and_member_nav(client):
    admin = make_account("admin@club.test", role=Role.admin)
    log_in(client, admin)
    home = client.get("/").text
    assert 'href="/admin"' in home and "My co-op" not in home
    assert client.get("/admin").status_code == 200
