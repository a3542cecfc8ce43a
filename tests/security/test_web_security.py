"""Web security as a browser and a mail reader see it: headers, CSRF on every form,
no open redirects, cookie flags, CR/LF kept out of mail headers, stored XSS inert."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.config import get_settings
from app.consent.log import log_origin
from app.main import create_app
from app.web import TEMPLATES_DIR
from tests.members.factories import csrf_for_logged_in, log_in, login_path
from tests.security.test_authorization_matrix import APP, kind_of
from tests.security.world import build_world, fill_path
from tests.subscribers.helpers import hidden, statuses


def directives(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


# Headers -------------------------------------------------------------------------------


def test_pages_run_only_our_own_scripts_and_cannot_be_framed(client):
    build_world()
    for url in ("/", "/subscribe", "/login", "/members/member-a", "/nowhere"):
        response = client.get(url)
        csp = directives(response)
        assert csp["script-src"] == "'self'", url
        assert csp["style-src"] == "'self'", url
        assert csp["frame-ancestors"] == "'none'", url
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'", url
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in response.headers  # BASE_URL is http here
    for url in ("/api/v1/topics", "/static/style.css", "/healthz"):
        assert client.get(url).headers["x-content-type-options"] == "nosniff"


def test_the_embeddable_form_may_be_framed_by_any_member_site(client):
    build_world()
    page = client.get("/subscribe/embed/riverside")
    assert page.status_code == 200
    assert directives(page)["frame-ancestors"] == "*"
    assert directives(page)["script-src"] == "'self'"
    assert "x-frame-options" not in page.headers
    posted = client.post("/subscribe/embed/riverside", data={"email": "x@example.org"})
    assert directives(posted)["frame-ancestors"] == "*"


def test_emails_on_the_web_keep_their_styles_and_run_no_script(client):
    world = build_world()
    archive = client.get(fill_path("/archive/{slug}/{number}", world, None))
    assert archive.status_code == 200 and "<html" in archive.text.lower()
    csp = directives(archive)
    assert csp["default-src"] == "'none'" and csp["style-src"] == "'unsafe-inline'"
    assert "script-src" not in csp  # falls back to default-src 'none': no script at all
    log_in(client, world.accounts["admin"])
    preview = client.get(fill_path("/admin/issues/{issue_id}/preview.html", world, None))
    assert preview.status_code == 200
    assert directives(preview)["frame-ancestors"] == "'self'"  # the editor's iframe
    # The editor's live preview is an iframe srcdoc, which inherits the editor's policy.
    editor = client.get(fill_path("/admin/issues/{issue_id}", world, None))
    assert directives(editor)["style-src"] == "'self' 'unsafe-inline'"
    assert directives(editor)["script-src"] == "'self'"
    assert "sandbox" in editor.text and "preview.html" in editor.text


def test_api_docs_allow_their_one_inline_script_by_hash(client):
    page = client.get("/docs")
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in directives(page)["script-src"]
    assert "'unsafe-inline'" not in directives(page)["script-src"]


def test_no_template_carries_inline_script_style_or_handlers():
    offenders = []
    for path in Path(TEMPLATES_DIR).rglob("*.html"):
        html = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\sstyle=", r"\son[a-z]+=", r"<style"):
            if re.search(pattern, html, re.IGNORECASE):
                offenders.append(f"{path.name}: {pattern}")
    assert not offenders


@pytest.fixture
def https_app(monkeypatch):
    # The consent log keeps its name when the Club's address changes (its key is for it).
    monkeypatch.setenv("COOPCLUB_LOG_ORIGIN", log_origin())
    monkeypatch.setenv("COOPCLUB_BASE_URL", "https://club.example.org")
    get_settings.cache_clear()
    yield create_app()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_https_adds_hsts_and_secure_cookies(https_app):
    world = build_world()
    client = TestClient(https_app, base_url="https://club.example.org")
    response = client.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "secure" in response.headers["set-cookie"].lower()
    page = client.get(login_path(world.accounts["a_owner"]))
    done = client.post(
        "/login/link",
        data={"token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token")},
        follow_redirects=False,
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if "coopclub_session" in c)
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags


def test_session_cookie_flags_on_http(client):
    world = build_world()
    page = client.get(login_path(world.accounts["a_owner"]))
    done = client.post(
        "/login/link",
        data={"token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token")},
        follow_redirects=False,
    )
    cookie = next(c for c in done.headers.get_list("set-cookie") if "coopclub_session" in c)
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # a plain-http BASE_URL (local use) could not send it back


# CSRF ----------------------------------------------------------------------------------


def form_posts() -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(APP.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and "POST" in route.methods
            and not context.path.startswith(("/api/", "/webhooks/"))
        ):
            found.append((context.path, kind_of(route, context.path)))
    return found


FORM_POSTS = form_posts()
# One-click unsubscribes (RFC 8058: the mail client posts with no cookie) and the
# embeddable form (posted from members' own sites).
WITHOUT_CSRF = {"/u/{token}", "/sharing/stop/{member_id}/{token}", "/subscribe/embed/{member_slug}"}
ACTOR = {"admin": "admin", "owner": "a_owner", "staff": "a_staff"}


@pytest.mark.parametrize(("path", "kind"), [p for p in FORM_POSTS if p[0] not in WITHOUT_CSRF])
def test_every_form_post_refuses_a_missing_or_forged_csrf_token(path, kind):
    world = build_world()
    client = TestClient(APP, raise_server_exceptions=False)  # see KNOWN_BUGS in the matrix
    if kind in ACTOR:
        log_in(client, world.accounts[ACTOR[kind]])
    token = (
        world.tokens[next(p for p in world.tokens if path.startswith(p))]
        if kind == "token"
        else None
    )
    url = fill_path(path, world, token)
    valid = csrf_for_logged_in(client)  # also sets this client's CSRF cookie
    other = TestClient(APP)
    forged = csrf_for_logged_in(other)  # genuine, but for another browser's cookie
    for data in ({}, {"csrf_token": ""}, {"csrf_token": forged}, {"csrf_token": valid + "x"}):
        response = client.post(url, data=data, follow_redirects=False)
        assert response.status_code == 403, (path, data, response.status_code)
        assert "Reload the page" in response.text
    # Without its cookie, even the right token is refused (a cross-site post sends none).
    bare = TestClient(APP)
    assert bare.post(url, data={"csrf_token": valid}).status_code == 403
    # And with it the same request gets past the check.
    assert client.post(url, data={"csrf_token": valid}, follow_redirects=False).status_code != 403


def test_the_csrf_list_found_the_forms():
    paths = {p for p, _ in FORM_POSTS}
    assert {"/login", "/subscribe", "/member/keys", "/admin/issues/{issue_id}"} <= paths
    assert paths >= WITHOUT_CSRF
    assert len(FORM_POSTS) >= 25


def test_one_click_unsubscribe_needs_only_its_signed_url(client):
    """RFC 8058: the mail client POSTs List-Unsubscribe=One-Click with no cookie."""
    world = build_world()
    assert statuses("reader@example.org")["food"][0] == "active"
    response = TestClient(APP).post(
        fill_path("/u/{token}", world, world.tokens["/u/"]),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert statuses("reader@example.org")["food"][0] == "unsubscribed"
    # A forged or wrong-kind token does nothing.
    forged = TestClient(APP).post(fill_path("/u/{token}", world, world.tokens["/preferences/"]))
    assert forged.status_code == 400


def test_the_embed_form_takes_cross_site_posts_but_checks_a_token_it_is_given(
    client, smtp, run_jobs
):
    build_world()
    # A member's pasted plain form: no cookie, no token. Accepted (honeypot and rate
    # limits guard it), attributed to the member, mailed a confirmation.
    cross_site = TestClient(APP).post(
        "/subscribe/embed/riverside", data={"email": "visitor@example.org", "topics": "food"}
    )
    assert cross_site.status_code == 200 and "inbox" in cross_site.text.lower()
    run_jobs()
    assert smtp.wait_for("visitor@example.org")
    # The same browser as our iframe (it has our CSRF cookie) with a wrong token: refused.
    client.get("/subscribe/embed/riverside")
    refused = client.post(
        "/subscribe/embed/riverside",
        data={"email": "other@example.org", "topics": "food", "csrf_token": "forged"},
    )
    assert refused.status_code == 403
    # A filled honeypot is dropped quietly: same page, no mail.
    robot = TestClient(APP).post(
        "/subscribe/embed/riverside",
        data={"email": "robot@example.org", "topics": "food", "website": "http://spam"},
    )
    assert robot.status_code == 200
    run_jobs()
    assert statuses("robot@example.org") == {}


# Redirects -----------------------------------------------------------------------------

EVIL = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "http:evil.example",
    "https:/evil.example",
    "/%2F%2Fevil.example",
    "javascript:alert(1)",
]


def redirect_params() -> list[tuple[str, str, str]]:
    """(method, path, param) for every route taking a next/url/redirect-like parameter."""
    names = {"next", "url", "redirect", "return_to", "return", "continue", "to", "target"}
    found = []
    for context in iter_route_contexts(APP.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        params = route.dependant.query_params + route.dependant.body_params
        for param in params:
            if param.name in names:
                found.extend((m, context.path, param.name) for m in route.methods)
    return found


def assert_local(location: str) -> None:
    parts = urlsplit(location)
    assert parts.scheme in ("", "http") and parts.netloc in ("", "testserver"), location
    assert not location.startswith(("//", "/\\", "\\")), location


def test_the_redirect_parameters_are_found():
    assert ("GET", "/login", "next") in redirect_params()
    assert ("POST", "/login", "next") in redirect_params()


@pytest.mark.parametrize("target", EVIL)
def test_no_open_redirect_through_any_next_parameter(client, smtp, run_jobs, target):
    world = build_world()
    account = world.accounts["a_owner"]
    for method, path, name in redirect_params():
        assert (method, path) in {
            ("GET", "/login"),
            ("POST", "/login"),
            ("GET", "/language/{code}"),
        }, f"new redirect parameter {name} on {method} {path}: add it to this test"
    # Asking for a login link with next=evil, then using the emailed link.
    anonymous = TestClient(APP)
    csrf = csrf_for_logged_in(anonymous)
    anonymous.post("/login", data={"email": account.email, "next": target, "csrf_token": csrf})
    run_jobs()
    # The world also mails the owner about its bookings and sharing: find the login link.
    links = [
        found.group(1)
        for mail in smtp.wait_for(account.email)
        if (found := re.search(r"http://testserver(/login/link\?token=[\w.\-]+)", mail.text()))
    ]
    (link,) = links
    page = anonymous.get(link)
    done = anonymous.post(
        "/login/link",
        data={"token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token")},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert_local(done.headers["location"])
    # Already logged in: /login?next=evil sends them on, but only somewhere local.
    again = anonymous.get("/login", params={"next": target}, follow_redirects=False)
    assert again.status_code == 303
    assert_local(again.headers["location"])
    # The language switcher goes back to the page it was on, and only to a local one.
    switched = anonymous.get("/language/fr", params={"next": target}, follow_redirects=False)
    assert switched.status_code == 303
    assert_local(switched.headers["location"])
    # A page that needs a login carries the wanted path in next, never elsewhere.
    fresh = TestClient(APP).get("/member", params={"next": target}, follow_redirects=False)
    assert_local(fresh.headers["location"])


# Injection -----------------------------------------------------------------------------


INJECTED = "Hello\r\nBcc: victim@evil.example\r\nX-Injected: yes"


def test_cr_lf_in_form_fields_never_reaches_a_mail_header(client, smtp, run_jobs):
    build_world()
    # Signup: an address with CR/LF is refused; a first name with them is body text at most.
    api = client.post(
        "/api/v1/subscribe",
        json={"email": "a@example.org\r\nBcc: victim@evil.example", "topics": ["food"]},
    )
    assert api.status_code == 422
    named = client.post(
        "/api/v1/subscribe",
        json={"email": "named@example.org", "topics": ["food"], "first_name": INJECTED},
    )
    assert named.status_code == 422 and statuses("named@example.org") == {}
    # Resend and login forms with an injected address.
    anonymous = TestClient(APP)
    csrf = csrf_for_logged_in(anonymous)
    anonymous.post("/confirm/resend", data={"email": INJECTED, "csrf_token": csrf})
    anonymous.post(
        "/login",
        data={"email": "owner@a.example.org\r\nBcc: victim@evil.example", "csrf_token": csrf},
    )
    run_jobs()
    assert smtp.to("victim@evil.example") == []
    for received in smtp.messages:
        head = received.raw.split(b"\r\n\r\n", 1)[0].decode()
        for line in head.split("\r\n"):
            assert not line.lower().startswith(("bcc:", "x-injected:")), line
        assert "\r" not in str(received.message["Subject"])
        assert "\n" not in str(received.message["Subject"])


def test_an_issue_subject_with_cr_lf_is_refused_when_saved(client, smtp, run_jobs):
    world = build_world()
    log_in(client, world.accounts["admin"])
    issue_url = fill_path("/admin/issues/{issue_id}", world, None)
    editor = client.get(issue_url)
    form = dict(re.findall(r'name="([\w-]+)" type="text" value="([^"]*)"', editor.text))
    form.update(subject=INJECTED, csrf_token=hidden(editor.text, "csrf_token"))
    saved = client.post(issue_url, data=form, follow_redirects=False)
    assert saved.status_code == 422


def test_the_500_page_carries_the_security_headers_too():
    """Starlette answers an unhandled error from outside the ordinary middleware; ours
    sits outside that, so the error page is as locked down as every other page."""
    app = create_app()

    @app.get("/test-only-crash")
    def crash() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as crashing:
        for accept in ("text/html", "application/json"):
            response = crashing.get("/test-only-crash", headers={"accept": accept})
            assert response.status_code == 500
            assert "a bug" not in response.text
            assert directives(response)["script-src"] == "'self'"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
