"""Applying to join, and admins approving, suspending and reactivating members."""

import re

from sqlmodel import select

from app.db import session_scope
from app.members.models import Account, Member, MemberStatus, Role
from tests.members.factories import csrf, log_in, make_account, make_member, post_form

APPLICATION = {
    "name": "Harbour Bakery Co-op",
    "slug": "harbour-bakery",
    "kind": "worker",
    "region": "Nova Scotia",
    "website": "https://harbour.example.org",
    "description": "Bread, owned by the bakers.",
    "show_kind": "on",
    "show_region": "on",
    "owner_name": "Ada Baker",
    "owner_email": "Ada@Harbour.example.org",
}


def apply(client, **changes):
    data = {**APPLICATION, **changes, "csrf_token": csrf(client)}
    return client.post("/apply", data=data)


def apply_and_confirm(client, smtp, run_jobs, **changes):
    """Apply, open the emailed link and press Confirm: the applied page (201)."""
    address = changes.get("owner_email", APPLICATION["owner_email"]).lower()
    before = len(smtp.to(address))
    assert apply(client, **changes).status_code == 202
    run_jobs()
    link = confirm_link_in(smtp.wait_for(address, before + 1)[-1])
    page = client.get(link)
    assert page.status_code == 200
    return client.post("/apply/confirm", data={"csrf_token": csrf(client), "token": token_of(link)})


def confirm_link_in(received) -> str:
    match = re.search(r"http://testserver(/apply/confirm\?token=[A-Za-z0-9_.\-]+)", received.text())
    assert match, f"no confirmation link in: {received.text()}"
    return match.group(1)


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


def test_an_application_is_approved_and_the_owner_is_emailed(client, smtp, run_jobs):
    applied = apply_and_confirm(client, smtp, run_jobs)
    assert applied.status_code == 201
    assert "Your application is in" in applied.text
    with session_scope() as session:
        member = session.exec(select(Member)).one()
        owner = session.exec(select(Account)).one()
    assert member.status == MemberStatus.applied
    assert (member.show_kind, member.show_website) == (True, False)
    assert (owner.email, owner.role, owner.member_id) == (
        "ada@harbour.example.org",
        Role.owner,
        member.id,
    )
    assert "Harbour Bakery" not in client.get("/members").text

    admin = make_account("admin@club.test", role=Role.admin)
    log_in(client, admin)
    waiting = client.get("/admin/applications")
    assert "Harbour Bakery Co-op" in waiting.text and "ada@harbour.example.org" in waiting.text
    approved = post_form(client, f"/admin/members/{member.id}/approve")
    assert approved.status_code == 200
    assert "is approved" in approved.text  # the flash after the redirect
    assert "Harbour Bakery Co-op" in client.get("/members").text
    assert "No applications are waiting" in client.get("/admin/applications").text
    run_jobs()
    (_confirm, welcome) = smtp.wait_for("ada@harbour.example.org", 2)
    assert "approved" in welcome.message["Subject"]


def test_a_duplicate_slug_reshows_the_form_with_the_input_kept(client):
    make_member("harbour-bakery")
    response = apply(client)
    assert response.status_code == 422
    assert "already uses this web address" in response.text
    assert 'id="slug" name="slug" value="harbour-bakery" aria-invalid="true"' in response.text
    assert 'value="Ada@Harbour.example.org"' in response.text
    assert 'value="Harbour Bakery Co-op"' in response.text
    with session_scope() as session:
        assert len(session.exec(select(Member)).all()) == 1
        assert session.exec(select(Account)).all() == []  # nothing half-saved


def test_bad_fields_are_each_marked(client):
    response = apply(client, slug="Not A Slug!", website="harbour", owner_email="nope")
    assert response.status_code == 422
    for field in ("slug", "website"):
        assert f'name="{field}" value=' in response.text
        assert f'id="{field}-error"' in response.text
    bad_email = apply(client, owner_email="nope")
    assert 'id="owner_email-error"' in bad_email.text


def test_suspend_and_reactivate_email_the_owners(client, smtp, run_jobs):
    member = make_member("riverside-food")
    make_account("owner@riverside.example.org", member=member)
    log_in(client, make_account("admin@club.test", role=Role.admin))
    post_form(client, f"/admin/members/{member.id}/suspend", {"confirmed": "yes"})
    assert "suspended" in client.get(f"/admin/members/{member.id}").text
    assert "Riverside" not in client.get("/members").text
    post_form(client, f"/admin/members/{member.id}/reactivate")
    run_jobs()
    subjects = [m.message["Subject"] for m in smtp.wait_for("owner@riverside.example.org", 2)]
    assert any("suspended" in s for s in subjects) and any("active again" in s for s in subjects)
    approve_again = post_form(client, f"/admin/members/{member.id}/approve")
    assert "not awaiting approval" in approve_again.text


def test_the_admin_area_is_for_admins_only(client):
    member = make_member("riverside-food")
    anonymous = client.get("/admin/members", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/admin/members"
    log_in(client, make_account("owner@riverside.example.org", member=member))
    assert client.get("/admin").status_code == 403
    assert post_form(client, f"/admin/members/{member.id}/suspend").status_code == 403


def test_admin_lists_members_and_accounts(client):
    log_in(client, make_account("admin@club.test", role=Role.admin))
    assert "No members" in client.get("/admin/members").text
    member = make_member("riverside-food", name="Riverside Food Co-op")
    make_account("owner@riverside.example.org", member=member)
    assert "Riverside Food Co-op" in client.get("/admin/members?status=active").text
    accounts = client.get("/admin/accounts").text
    assert "owner@riverside.example.org" in accounts and "Club admin" in accounts
    assert client.get("/admin/members/999").status_code == 404
