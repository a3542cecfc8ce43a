"""Suggest an update: anyone sends a correction to a listing; the owners get it by email
and accept it with one click (or dismiss it); nothing changes without them."""

from __future__ import annotations

import re

from app.db import session_scope
from app.members.history import DirectoryChange
from app.members.models import Member, Role
from tests.members.factories import csrf, log_in, make_account, make_member, post_form

OWNER = "owner@riverside.example.org"


def setup_member():
    member = make_member("riverside", name="Riverside Food Co-op", city="Toronto", show_city=True)
    owner = make_account(OWNER, role=Role.owner, member=member)
    make_account("staff@riverside.example.org", role=Role.staff, member=member)
    return member, owner


def suggest(client, data: dict):
    return client.post(
        "/members/riverside/suggest",
        data={"csrf_token": csrf(client), **data},
        follow_redirects=False,
    )


def test_a_correction_is_checked_kept_on_error_and_emailed_to_the_owners(client, smtp, run_jobs):
    setup_member()
    page = client.get("/members/riverside")
    assert 'href="/members/riverside/suggest"' in page.text
    bad = suggest(client, {"field": "founded_year", "value": "nineteen", "note": "I was there"})
    assert bad.status_code == 422 and 'id="value-error"' in bad.text
    assert 'value="nineteen"' in bad.text and 'value="I was there"' in bad.text
    assert (
        suggest(client, {"field": "website", "value": "x", "from_email": "nope"}).status_code == 422
    )
    good = suggest(
        client,
        {"field": "city", "value": "Mississauga", "note": "They moved", "from_email": "a@b.org"},
    )
    assert good.status_code == 303
    run_jobs()
    (mail,) = smtp.wait_for(OWNER)
    assert "Mississauga" in mail.text() and "They moved" in mail.text()
    assert "Riverside" not in mail.message["Subject"]  # member-typed text stays in the body
    assert smtp.to("staff@riverside.example.org") == []  # owners only
    # nothing has changed yet
    assert client.get("/api/v1/members/riverside").json()["city"] == "Toronto"


def test_an_owner_accepts_with_one_click_and_it_is_in_the_change_log(client, smtp, run_jobs):
    member, owner = setup_member()
    suggest(client, {"field": "city", "value": "Mississauga"})
    run_jobs()
    (mail,) = smtp.wait_for(OWNER)
    path = re.search(r"https?://[^/\s]+(/member/suggestions/\d+)", mail.text()).group(1)
    anonymous = client.get(path, follow_redirects=False)
    assert anonymous.status_code in (303, 401, 403)
    log_in(client, owner)
    page = client.get(path)
    assert page.status_code == 200 and "Mississauga" in page.text and "Toronto" in page.text
    accepted = post_form(client, path, {"decision": "accept"}, follow_redirects=False)
    assert accepted.status_code == 303
    assert client.get("/api/v1/members/riverside").json()["city"] == "Mississauga"
    again = post_form(client, path, {"decision": "accept"}, follow_redirects=True)
    assert "already decided" in again.text
    with session_scope() as session:
        (change,) = session.query(DirectoryChange).all()
        assert (change.field, change.old_value, change.new_value) == (
            "city",
            "Toronto",
            "Mississauga",
        )
        assert change.account_id == owner.id
    assert "Mississauga" in client.get("/member/profile").text


def test_a_dismissed_suggestion_changes_nothing_and_others_cannot_see_it(client, smtp, run_jobs):
    member, owner = setup_member()
    suggest(client, {"field": "name", "value": "Riverside Grocers"})
    other = make_member("maple", name="Maple Housing")
    stranger = make_account("owner@maple.example.org", role=Role.owner, member=other)
    log_in(client, stranger)
    assert client.get("/member/suggestions/1").status_code == 404
    assert post_form(client, "/member/suggestions/1", {"decision": "accept"}).status_code == 404
    client.cookies.clear()
    log_in(client, owner)
    post_form(client, "/member/suggestions/1", {"decision": "dismiss"})
    with session_scope() as session:
        assert session.get(Member, member.id).name == "Riverside Food Co-op"


def test_admins_see_a_members_change_log(client):
    member, owner = setup_member()
    log_in(client, owner)
    post_form(client, "/member/profile", {"name": "Riverside Grocers", "city": "Toronto"})
    admin = make_account("admin@club.test", role=Role.admin)
    client.cookies.clear()
    log_in(client, admin)
    page = client.get(f"/admin/members/{member.id}")
    assert "Changes to the directory listing" in page.text
    assert "Riverside Grocers" in page.text and OWNER in page.text
