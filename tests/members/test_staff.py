"""Owners invite staff, change roles and remove people; staff cannot do owner things."""

import re

from fastapi.testclient import TestClient
from sqlmodel import select

from app.auth.models import AccountSession
from app.db import session_scope
from app.members.models import Account, Role
from tests.members.factories import (
    csrf,
    csrf_for_logged_in,
    log_in,
    make_account,
    make_key,
    make_member,
    post_form,
)


def team():
    member = make_member("riverside-food", name="Riverside Food Co-op")
    owner = make_account("owner@riverside.example.org", member=member)
    staff = make_account("staff@riverside.example.org", member=member, role=Role.staff)
    return member, owner, staff


def test_an_owner_invites_a_person_who_joins_only_by_accepting(client, smtp, run_jobs):
    _member, owner, _staff = team()
    log_in(client, owner)
    added = post_form(
        client,
        "/member/staff",
        {"email": "New@Riverside.example.org", "display_name": "Jo", "role": "staff"},
    )
    assert added.status_code == 200
    assert "We emailed new@riverside.example.org an invitation" in added.text
    run_jobs()
    (invitation,) = smtp.wait_for("new@riverside.example.org")
    # The subject is the Club's words; the co-op's name (typed by a member) is in the body.
    assert invitation.message["Subject"] == "You are invited to a co-op's team on Co-op Data Club"
    assert "Riverside Food Co-op" in invitation.text()
    with session_scope() as session:  # no account until the person accepts
        assert not session.exec(
            select(Account).where(Account.email == "new@riverside.example.org")
        ).first()

    link = re.search(r"http://testserver(/invitations/\S+)", invitation.text()).group(1)
    invited = TestClient(client.app)
    page = invited.get(link)
    assert page.status_code == 200 and "Join Riverside Food Co-op" in page.text
    accepted = invited.post(link, data={"csrf_token": csrf(invited)}, follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/member"
    assert "Riverside Food Co-op" in invited.get("/member").text  # logged in, on the team
    with session_scope() as session:
        new = session.exec(
            select(Account).where(Account.email == "new@riverside.example.org")
        ).one()
    assert (new.role, new.display_name, new.active) == (Role.staff, "Jo", True)
    again = invited.post(link, data={"csrf_token": csrf_for_logged_in(invited)})
    assert again.status_code == 400 and "accepted already" in again.text


def test_inviting_an_address_with_another_account_reshows_the_form(client):
    _member, owner, _staff = team()
    other = make_member("northwind")
    make_account("taken@northwind.example.org", member=other)
    log_in(client, owner)
    response = post_form(client, "/member/staff", {"email": "taken@northwind.example.org"})
    assert response.status_code == 422
    assert "another organisation" in response.text
    assert 'value="taken@northwind.example.org"' in response.text


def test_staff_trying_owner_actions_get_403(client):
    member, owner, staff = team()
    key_id, _secret = make_key(member)
    log_in(client, staff)
    dashboard = client.get("/member")
    assert dashboard.status_code == 200
    assert "Create API key" not in dashboard.text and "Add someone" not in dashboard.text
    for url, data in [
        ("/member/staff", {"email": "x@example.org"}),
        (f"/member/staff/{owner.id}/role", {"role": "staff"}),
        (f"/member/staff/{owner.id}/remove", {}),
        ("/member/keys", {"name": "mine"}),
        (f"/member/keys/{key_id}/revoke", {}),
        ("/member/profile", {"name": "Hijacked"}),
    ]:
        response = post_form(client, url, data)
        assert response.status_code == 403, url
        assert "owners can do that" in response.text
    assert client.get("/member/profile").status_code == 403


def test_roles_change_but_a_member_keeps_an_owner(client):
    _member, owner, staff = team()
    log_in(client, owner)
    lone = post_form(client, f"/member/staff/{owner.id}/role", {"role": "staff"})
    assert "at least one owner" in lone.text
    promoted = post_form(client, f"/member/staff/{staff.id}/role", {"role": "owner"})
    assert "is now owner" in promoted.text
    demoted = post_form(client, f"/member/staff/{owner.id}/role", {"role": "staff"})
    assert "is now staff" in demoted.text
    assert post_form(client, "/member/keys", {"name": "x"}).status_code == 403


def test_removing_someone_ends_their_sessions(client):
    from fastapi.testclient import TestClient

    from app.main import create_app

    _member, owner, staff = team()
    with TestClient(create_app()) as staff_browser:
        log_in(staff_browser, staff)
        assert staff_browser.get("/member").status_code == 200
        log_in(client, owner)
        removed = post_form(client, f"/member/staff/{staff.id}/remove")
        assert "no longer on your team" in removed.text
        assert staff_browser.get("/member", follow_redirects=False).status_code == 303
    with session_scope() as session:
        assert (
            session.exec(select(AccountSession).where(AccountSession.account_id == staff.id)).all()
            == []
        )
    assert "staff@riverside.example.org" not in client.get("/member").text


def test_the_owner_edits_the_profile_and_what_is_public(client):
    _member, owner, _staff = team()
    log_in(client, owner)
    bad = post_form(client, "/member/profile", {"name": "Riverside", "website": "nope"})
    assert bad.status_code == 422 and 'id="website-error"' in bad.text
    saved = post_form(
        client,
        "/member/profile",
        {"name": "Riverside Grocers", "region": "Ontario", "show_region": "on"},
    )
    assert "profile is saved" in saved.text
    public = client.get("/api/v1/members/riverside-food").json()
    assert (
        public["name"] == "Riverside Grocers"
        and public["region"] == "CA-ON"
        and public["country"] is None
    )


def test_the_dashboard_shows_the_embed_snippets(client):
    from tests.newsletters.factories import make_topic

    _member, owner, _staff = team()
    make_topic("food")
    log_in(client, owner)
    page = client.get("/member").text
    assert "action=&#34;http://testserver/subscribe/embed/riverside-food&#34;" in page
    assert (
        "&lt;iframe src=&#34;http://testserver/subscribe/embed/riverside-food?form_token=" in page
    )
