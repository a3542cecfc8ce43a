"""Who may call what: every route of the app against six callers.

The rows come from the app's route table, so a new route is checked the moment it
exists. Each route's kind is read from the access dependency it declares (RequireAdmin,
MemberOwner, MemberStaff, ApiMember), or from its path (signed subscriber links);
the rest is public. `RULES` says what each caller gets for each kind; `EXCEPTIONS`
lists the few routes whose answer differs, and `PUBLIC` names every public route, so
a new route that declares no access dependency fails until someone decides it is
public on purpose.

Callers: anonymous; a subscriber (no session; sends their preferences token as a
Bearer key everywhere, and their own links on the link routes); member A's staff and
owner, member B's owner (sessions on pages; their member's API keys on the API);
a Club admin (session only: admins hold no API keys). Path ids name member A's
objects, so member B's owner must get 404 wherever an id is in the path.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import SQLModel

from app import jobs
from app.auth.deps import api_member, member_owner, member_staff, require_admin
from app.db import get_engine
from app.main import create_app
from tests.conftest import empty_tables, reset_transient_state
from tests.members.factories import csrf_for_logged_in, log_in
from tests.security.conftest import FIGURES
from tests.security.world import World, build_world, fill_path

APP = create_app()
ROLES = ("anonymous", "subscriber", "a_staff", "a_owner", "b_owner", "admin")
TOKEN_ROUTES = (
    "/confirm/",
    "/preferences/",
    "/u/",
    "/receipts/",
    "/sharing/stop/",
    "/sharing/stop-all/",
    "/invitations/",
)
# On the link routes everyone but the subscriber holds a genuine token of ANOTHER kind.
WRONG_KIND = {
    "/confirm/": "/preferences/",
    "/preferences/": "/u/",
    "/u/": "/confirm/",
    "/receipts/": "/preferences/",
    "/sharing/stop/": "/u/",
    "/sharing/stop-all/": "/confirm/",
    "/invitations/": "/preferences/",
}

LOGIN = "a 303 to /login"
ALLOWED = "allowed"
ALLOWED_POST = {200, 201, 202, 204, 303, 400, 409, 422, 429}

RULES = {
    "admin": {
        "anonymous": LOGIN,
        "subscriber": LOGIN,
        "a_staff": 403,
        "a_owner": 403,
        "b_owner": 403,
        "admin": ALLOWED,
    },
    "owner": {
        "anonymous": LOGIN,
        "subscriber": LOGIN,
        "a_staff": 403,
        "a_owner": ALLOWED,
        "b_owner": "404 with ids, else allowed",
        "admin": 403,
    },
    "staff": {
        "anonymous": LOGIN,
        "subscriber": LOGIN,
        "a_staff": ALLOWED,
        "a_owner": ALLOWED,
        "b_owner": "404 with ids, else allowed",
        "admin": 403,
    },
    "key": {
        "anonymous": 401,
        "subscriber": 401,
        "a_staff": ALLOWED,
        "a_owner": ALLOWED,
        "b_owner": "404 with ids, else allowed",
        "admin": 401,
    },
    "token": {role: 400 for role in ROLES} | {"subscriber": ALLOWED},
    "public": {role: ALLOWED for role in ROLES},
}

# Every route that declares no access dependency, on purpose.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    ("GET", "/privacy"),
    ("GET", "/language/{code}"),
    ("GET", "/docs"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/link"),
    ("POST", "/login/link"),
    ("POST", "/logout"),
    ("GET", "/members"),
    ("GET", "/members/codes"),
    ("GET", "/members/embed"),
    ("GET", "/members/embed/view"),
    ("GET", "/members/{slug}/suggest"),
    ("POST", "/members/{slug}/suggest"),
    ("GET", "/members/{slug}"),
    ("GET", "/apply"),
    ("POST", "/apply"),
    ("GET", "/apply/confirm"),
    ("POST", "/apply/confirm"),
    ("GET", "/api/v1/members"),
    ("GET", "/api/v1/members.csv"),
    ("GET", "/api/v1/members.jsonld"),
    ("GET", "/api/v1/members/{slug}"),
    ("GET", "/topics"),
    ("GET", "/subscribe"),
    ("GET", "/subscribe/{topic_slug}"),
    ("POST", "/subscribe"),
    ("GET", "/subscribe/embed/{member_slug}"),
    ("POST", "/subscribe/embed/{member_slug}"),
    ("POST", "/confirm/resend"),
    ("GET", "/api/v1/topics"),
    ("OPTIONS", "/api/v1/subscribe"),
    ("POST", "/api/v1/subscribe"),
    ("POST", "/api/v1/receipts/verify"),
    ("GET", "/archive"),
    ("GET", "/archive/{slug}"),
    ("GET", "/archive/{slug}/feed.atom"),
    ("GET", "/archive/{slug}/{number}"),
    ("POST", "/webhooks/bounces"),
    # A sponsor's link in an issue: the signed token names only the creative.
    ("GET", "/r/{token}"),
    # Stripe's signature on the raw body is the authority, not a session or a key.
    ("POST", "/webhooks/stripe"),
    # The consent transparency log is public by design: anyone may audit it.
    ("GET", "/consent-log/key"),
    ("GET", "/consent-log/checkpoint"),
    ("GET", "/consent-log/checkpoint/{size}"),
    ("GET", "/consent-log/proof/inclusion"),
    ("GET", "/consent-log/proof/consistency"),
    ("GET", "/consent-log/leaves"),
}

LOGGED_IN = ("a_staff", "a_owner", "b_owner", "admin")
EXCEPTIONS: dict[tuple[str, str], dict[str, int | str]] = {
    # A logged-in person is sent on to their home page.
    ("GET", "/login"): {role: 303 for role in LOGGED_IN},
    # Without a token in the query the link page says the link is not valid.
    ("GET", "/login/link"): {role: 400 for role in ROLES},
    # So does the page that confirms an application.
    ("GET", "/apply/confirm"): {role: 400 for role in ROLES},
    # Receipts answer "not found" for any token that is not a receipt's.
    ("GET", "/receipts/{token}"): {role: 404 for role in ROLES if role != "subscriber"},
    # Authenticated by a shared secret alone; no secret is configured here, so it is
    # off for everyone: neither a session nor a key opens it.
    ("POST", "/webhooks/bounces"): {role: 404 for role in ROLES},
    # Without a Stripe signature the event is refused for everyone: a session or a key
    # does not stand in for it.
    ("POST", "/webhooks/stripe"): {role: 400 for role in ROLES},
    # Operators' endpoints: metrics are off without COOPCLUB_METRICS_TOKEN (then a bearer
    # token, never a session). /readyz is public (the row records a sweep first).
    ("GET", "/metrics"): {role: 404 for role in ROLES},
    # The click redirect sends anyone holding the link on to the sponsor's site.
    ("GET", "/r/{token}"): {role: 303 for role in ROLES},
    # The language switcher sets its cookie and goes back to the page, for anyone.
    ("GET", "/language/{code}"): {role: 303 for role in ROLES},
    # Signup is public, and a member may attribute it with its API key; a Bearer token
    # that is not a member's key (the subscriber's preferences token) is refused.
    ("POST", "/api/v1/subscribe"): {"subscriber": 401},
}

# The roles table (README "Roles"; app.auth.deps.ROLE_RIGHTS), route by route: what a
# member's staff may do besides looking. Every member route is in exactly one of these,
# so a new one fails until someone decides who may call it.
STAFF_MAY = {
    ("POST", "/member/bookings/{booking_id}/creative"),  # creatives
    ("POST", "/member/mailings"),  # mailing drafts
    ("POST", "/member/mailings/{mailing_id}"),
}
OWNERS_ONLY = {
    ("POST", "/member/bookings"),  # money: book, pay, cancel
    ("POST", "/member/bookings/{booking_id}/pay"),
    ("POST", "/member/bookings/{booking_id}/cancel"),
    ("POST", "/member/mailings/{mailing_id}/submit"),  # mailings: submit for sending
    ("GET", "/member/profile"),  # team and profile
    ("POST", "/member/profile"),
    ("GET", "/member/suggestions/{suggestion_id}"),
    ("POST", "/member/suggestions/{suggestion_id}"),
    ("POST", "/member/staff"),
    ("POST", "/member/staff/{account_id}/role"),
    ("POST", "/member/staff/{account_id}/remove"),
    ("POST", "/member/keys"),  # keys
    ("POST", "/member/keys/{key_id}/revoke"),
    ("POST", "/member/sharing"),  # sharing
    ("POST", "/member/sharing/{agreement_id}/accept"),
    ("POST", "/member/sharing/{agreement_id}/revoke"),
    ("GET", "/member/subscribers.csv"),  # export of personal data
}

JSON_BODIES = {
    "/api/v1/subscribe": {"email": "matrix@example.org", "topics": ["food"]},
    "/api/v1/receipts/verify": {},
}
# Queries that make a public GET meaningful ({size} is the world's log size).
QUERIES = {
    "/consent-log/proof/inclusion": "?index=0&size={size}",
    "/consent-log/proof/consistency": "?old=1&size={size}",
    "/consent-log/leaves": "?start=0&end={size}",
}


def _depends_on(route: APIRoute, call) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call is call:
            return True
        pending.extend(dependency.dependencies)
    return False


def kind_of(route: APIRoute, path: str) -> str:
    for call, kind in (
        (require_admin, "admin"),
        (member_owner, "owner"),
        (member_staff, "staff"),
        (api_member, "key"),
    ):
        if _depends_on(route, call):
            return kind
    if "{token}" in path and path.startswith(TOKEN_ROUTES):
        return "token"
    return "public"


def all_routes() -> list[tuple[str, str, str]]:
    found = []
    for context in iter_route_contexts(APP.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                found.append((method, context.path, kind_of(route, context.path)))
    return found


ROUTES = all_routes()
# Bugs this matrix found that belong to another domain, reported to its owner. Strict:
# once fixed, the row passes, the xfail fails, and the entry must go.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}
ROWS = [
    pytest.param(
        m,
        p,
        k,
        role,
        id=f"{m} {p} as {role}",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(m, p, role)])]
        if (m, p, role) in KNOWN_BUGS
        else [],
    )
    for m, p, k in ROUTES
    for role in ROLES
]


def test_every_route_has_a_decided_kind():
    """A route with no access dependency must be listed in PUBLIC: deciding that a
    route is open is a decision someone writes down."""
    undecided = sorted(
        f"{method} {path}"
        for method, path, kind in ROUTES
        if kind == "public" and (method, path) not in PUBLIC
    )
    assert not undecided, (
        f"routes without an access rule (add to PUBLIC or protect them): {undecided}"
    )
    stale = PUBLIC - {(m, p) for m, p, _ in ROUTES}
    assert not stale, f"PUBLIC names routes that no longer exist: {sorted(stale)}"
    assert len(ROUTES) >= 70


def test_the_roles_table_holds_for_every_member_route():
    """Staff look at everything of their co-op (GET), write creatives and mailing drafts;
    everything else a member does (money, mailings, team, keys, sharing, export) is the
    owners'. The matrix rows then check each route's kind for every caller."""
    kinds = {(m, p): k for m, p, k in ROUTES}
    member_routes = {route for route, kind in kinds.items() if kind in ("owner", "staff")}
    looking = {(m, p) for m, p in member_routes if m == "GET"} - OWNERS_ONLY
    assert {kinds[r] for r in looking} == {"staff"}
    assert {r: kinds[r] for r in STAFF_MAY} == dict.fromkeys(STAFF_MAY, "staff")
    assert {r: kinds[r] for r in OWNERS_ONLY} == dict.fromkeys(OWNERS_ONLY, "owner")
    undecided = member_routes - looking - STAFF_MAY - OWNERS_ONLY
    assert not undecided, f"member routes missing from the roles table: {sorted(undecided)}"


def expected_for(method: str, path: str, kind: str, role: str) -> int | str:
    exception = EXCEPTIONS.get((method, path), {})
    if role in exception:
        return exception[role]
    rule = RULES[kind][role]
    if rule == "404 with ids, else allowed":
        return 404 if re.search(r"{\w+}", path) else ALLOWED
    return rule


def client_for(role: str, world) -> TestClient:
    client = TestClient(APP, raise_server_exceptions=False)
    if role in world.accounts:
        log_in(client, world.accounts[role])
    return client


def send(client: TestClient, role: str, world, method: str, path: str, kind: str):
    token = None
    if kind == "token":
        prefix = next(p for p in TOKEN_ROUTES if path.startswith(p))
        token = world.tokens[prefix if role == "subscriber" else WRONG_KIND[prefix]]
    url = fill_path(path + QUERIES.get(path, ""), world, token)
    headers = {}
    if role == "subscriber":
        headers["Authorization"] = f"Bearer {world.tokens['/preferences/']}"
    elif kind == "key" and role in world.keys:
        headers["Authorization"] = f"Bearer {world.keys[role]}"
    if method == "POST" and path.startswith(("/api/", "/webhooks/")):
        return client.post(url, json=JSON_BODIES.get(path, {}), headers=headers)
    if method == "POST":
        # A valid CSRF token for everyone: this matrix is about who, not about forgery.
        csrf = csrf_for_logged_in(client)
        return client.post(url, data={"csrf_token": csrf}, headers=headers, follow_redirects=False)
    return client.request(method, url, headers=headers, follow_redirects=False)


def judge(expected: int | str, method: str, response) -> bool:
    status = response.status_code
    location = response.headers.get("location", "")
    if status >= 500:
        return False
    if expected == LOGIN:
        return status == 303 and location.startswith("/login")
    if expected == ALLOWED:
        if method in ("GET", "OPTIONS"):
            return status in (200, 204)
        return status in ALLOWED_POST and not (status == 303 and location.startswith("/login"))
    return status == expected


# The world is built once and kept for the next row while no request changes the
# database; a row that changed it (or queued jobs that might) empties the tables and the
# next row builds afresh. So every row still starts from the same world, and a refused
# request is checked to have changed nothing at all.
REFUSALS = (LOGIN, 400, 401, 403, 404)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@pytest.fixture(scope="module")
def kept(database):
    holder: dict[str, World] = {}
    yield holder
    empty_tables()  # leave empty tables to the next module, as every test does


@pytest.fixture(autouse=True)
def clean_state(database):
    """Overrides the suite's per-test wipe of the tables (`kept` decides when); what
    outlives a request but not a test is still reset after every row."""
    yield
    reset_transient_state()


def database_state() -> dict[str, list[tuple]]:
    with get_engine().connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }


@pytest.mark.parametrize(
    ("method", "path", "kind", "role"),
    ROWS,
)
def test_authorization_matrix(method, path, kind, role, kept, run_jobs):
    if "world" not in kept:
        kept["world"] = build_world()
        FIGURES["authorization matrix worlds built"] += 1
        run_jobs()  # the world's own mail is sent before any row looks at the tables
    world = kept["world"]
    client = client_for(role, world)
    expected = expected_for(method, path, kind, role)
    if path == "/readyz":
        jobs.record_sweep()  # a worker's sweep has run, so the answer is 200 for anyone
    before = database_state()
    response = send(client, role, world, method, path, kind)
    if method not in SAFE_METHODS:
        run_jobs()  # what the request queued runs now, not during a later row
    changed = sorted(name for name, rows in database_state().items() if rows != before.get(name))
    if changed:
        del kept["world"]
        empty_tables()
    FIGURES["authorization matrix rows checked"] += 1
    assert judge(expected, method, response), (
        f"{method} {path} ({kind}) as {role}: expected {expected}, "
        f"got {response.status_code} {response.headers.get('location', '')} "
        f"{response.text[:200]!r}"
    )
    assert not (changed and expected in REFUSALS), (
        f"{method} {path} as {role} was refused ({response.status_code}) but changed {changed}"
    )
