"""Every member-scoped route refuses other members' accounts and keys (404, not 403).

The routes are taken from the app itself: any route that depends on MemberStaff,
MemberOwner or ApiMember is checked, so a new route cannot escape this test. A new
path parameter must be added to OTHER_MEMBERS_IDS, or the test fails and says so.
"""

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlmodel import select

from app.auth.deps import api_member, member_owner, member_staff
from app.db import session_scope
from app.main import create_app
from app.members.models import Role
from tests.members.factories import log_in, make_account, make_key, make_member, post_form

SESSION_SCOPED = {member_staff, member_owner}
KEY_SCOPED = {api_member}


def depends_on(route: APIRoute, calls: set) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if dependency.call in calls:
            return True
        pending.extend(dependency.dependencies)
    return False


def member_routes() -> list[tuple[str, str, str]]:
    """(method, path, "session"|"key") for every member-scoped route."""
    found = []
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        kind = (
            "session"
            if depends_on(route, SESSION_SCOPED)
            else "key"
            if depends_on(route, KEY_SCOPED)
            else None
        )
        if kind:
            found.extend((method, context.path, kind) for method in sorted(route.methods))
    return found


ROUTES = member_routes()


def test_the_member_scoped_routes_are_found():
    paths = {path for _method, path, _kind in ROUTES}
    assert {"/member", "/member/keys/{key_id}/revoke", "/api/v1/keys/{key_id}"} <= paths


@pytest.fixture
def two_members():
    """Member A (the intruder) and member B (the target), each with an owner, a staff
    account and an API key."""
    a = make_member("member-a")
    b = make_member("member-b")
    a_owner = make_account("owner@a.example.org", member=a)
    b_owner = make_account("owner@b.example.org", member=b)
    b_staff = make_account("staff@b.example.org", member=b, role=Role.staff)
    _a_key, a_secret = make_key(a)
    b_key, b_secret = make_key(b)
    return {
        "a_owner": a_owner,
        "a_secret": a_secret,
        "b_owner": b_owner,
        "b_secret": b_secret,
        "ids": {"key_id": b_key, "account_id": b_staff.id},
    }


# Which of member B's objects each path parameter names. Other domains add theirs here.
def other_members_ids(two_members) -> dict[str, int]:
    from app.members.models import Member
    from tests.marketplace.factories import make_booking, make_slots

    _issue, slots = make_slots("scope-check")
    with session_scope() as session:
        member_b = session.exec(select(Member).where(Member.slug == "member-b")).one()
    booking = make_booking(member_b, slots[0])
    sharing = _sharing_ids(member_b)
    with session_scope() as session:
        from app.members.suggestions import ListingSuggestion

        suggestion = ListingSuggestion(member_id=member_b.id, field="city", value="Halifax")
        session.add(suggestion)
    return {
        **two_members["ids"],
        "booking_id": booking.id,
        "suggestion_id": suggestion.id,
        **sharing,
    }


def _sharing_ids(member_b) -> dict[str, int]:
    """An agreement member B offered to a third member, and a mailing of member B's."""
    from tests.sharing.helpers import agreement, owned_topic

    third = make_member("member-c")
    offered = agreement(member_b, third, owned_topic("b-topic", member_b), accept=False)
    from app.members.models import Member
    from app.sharing import mailings

    with session_scope() as session:
        mailing = mailings.create(session, member=session.get(Member, member_b.id), subject="Hi")
    return {"agreement_id": offered.id, "mailing_id": mailing.id}


@pytest.mark.parametrize(("method", "path", "kind"), ROUTES)
def test_another_members_ids_answer_404(client, two_members, method, path, kind):
    ids = other_members_ids(two_members)
    params = re.findall(r"{(\w+)}", path)
    if not params:
        if method != "GET":
            pytest.skip("no ids in the path: it acts on the caller's own member")
        # The member comes from the credentials: nothing of member B may show.
        if kind == "session":
            log_in(client, two_members["a_owner"])
            response = client.get(path)
        else:
            response = client.get(
                path, headers={"Authorization": f"Bearer {two_members['a_secret']}"}
            )
        assert response.status_code == 200
        # A CSV export of a member with no rows is only its header line.
        is_csv = response.headers["content-type"].startswith("text/csv")
        assert "member-a" in response.text or "Member A" in response.text or kind == "key" or is_csv
        # The sharing form lists the other active co-ops to share with: their public
        # directory names, nothing of theirs beyond.
        shown = re.sub(r'<select id="receiver".*?</select>', "", response.text, flags=re.S)
        assert "member-b" not in shown and "Member B" not in shown
        assert two_members["b_secret"][:12] not in response.text
        return
    missing = [p for p in params if p not in ids]
    assert not missing, f"add {missing} to other_members_ids() in {__file__}"
    url = path.format(**ids)

    if kind == "session":
        log_in(client, two_members["a_owner"])
        if method == "GET":
            response = client.get(url, follow_redirects=False)
        else:
            response = post_form(client, url, follow_redirects=False)
    else:
        response = client.request(
            method, url, headers={"Authorization": f"Bearer {two_members['a_secret']}"}
        )
    assert response.status_code == 404, (method, url, response.status_code)

    # The same request from member B's own owner or key is not a 404: the ids are real.
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as own:
        if kind == "session":
            log_in(own, two_members["b_owner"])
            if method == "GET":
                mine = own.get(url, follow_redirects=False)
            else:
                mine = post_form(own, url, follow_redirects=False)
        else:
            mine = own.request(
                method, url, headers={"Authorization": f"Bearer {two_members['b_secret']}"}
            )
    assert mine.status_code != 404, (method, url, mine.text)


@pytest.mark.parametrize(("method", "path", "kind"), ROUTES)
def test_no_credentials_get_no_access(client, method, path, kind):
    make_member("member-b")
    url = re.sub(r"{\w+}", "1", path)
    response = client.request(method, url, follow_redirects=False)
    if kind == "key":
        assert response.status_code == 401
    else:
        # Pages redirect to the login form; a form post without its CSRF token is refused.
        assert response.status_code in (303, 403)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login")
