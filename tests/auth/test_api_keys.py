"""Member API keys: shown once, stored as a hash, revocable, refused for suspended members."""

import re

from sqlmodel import select

from app.auth.models import ApiKey
from app.db import session_scope
from app.members.models import Role
from tests.members.factories import (
    log_in,
    make_account,
    make_key,
    make_member,
    post_form,
)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_an_owner_creates_a_key_sees_it_once_and_revokes_it(client):
    member = make_member("riverside-food")
    owner = make_account("owner@riverside.example.org", member=member)
    log_in(client, owner)

    created = post_form(client, "/member/keys", {"name": "Website signup"})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r"(ccm_[A-Za-z0-9_-]+)</pre>", created.text).group(1)
    with session_scope() as session:
        (key,) = session.exec(select(ApiKey)).all()
    assert secret.startswith(key.prefix)
    stored = " ".join(str(v) for v in key.model_dump().values())
    assert secret not in stored  # only the hash and the visible prefix are kept
    assert secret not in client.get("/member").text  # shown once, never again

    me = client.get("/api/v1/member", headers=bearer(secret))
    assert me.status_code == 200
    assert me.json()["slug"] == "riverside-food"
    listed = client.get("/api/v1/keys", headers=bearer(secret)).json()
    assert [k["name"] for k in listed] == ["Website signup"]
    assert listed[0]["last_used_at"] is not None
    assert "secret_hash" not in listed[0]

    revoked = post_form(
        client, f"/member/keys/{key.id}/revoke", {"confirmed": "yes"}, follow_redirects=False
    )
    assert revoked.status_code == 303
    refused = client.get("/api/v1/member", headers=bearer(secret))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_a_key_can_revoke_itself_through_the_api(client):
    member = make_member("northwind")
    key_id, secret = make_key(member)
    gone = client.delete(f"/api/v1/keys/{key_id}", headers=bearer(secret))
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    assert client.get("/api/v1/keys", headers=bearer(secret)).status_code == 401


def test_a_suspended_members_key_gets_401_with_the_reason(client):
    member = make_member("maple-housing")
    _key_id, secret = make_key(member)
    admin = make_account("admin@club.test", role=Role.admin)
    log_in(client, admin)
    assert client.get("/api/v1/member", headers=bearer(secret)).status_code == 200

    post_form(client, f"/admin/members/{member.id}/suspend", {"confirmed": "yes"})
    refused = client.get("/api/v1/member", headers=bearer(secret))
    assert refused.status_code == 401
    assert "suspended" in refused.json()["detail"]
    assert refused.headers["www-authenticate"].startswith("Bearer")

    post_form(client, f"/admin/members/{member.id}/reactivate")
    assert client.get("/api/v1/member", headers=bearer(secret)).status_code == 200


def test_an_applied_members_key_is_refused_and_owners_cannot_create_one(client):
    from app.members.models import MemberStatus

    member = make_member("newcomer", status=MemberStatus.applied)
    owner = make_account("owner@newcomer.example.org", member=member)
    _key_id, secret = make_key(member)
    assert "not yet approved" in client.get("/api/v1/member", headers=bearer(secret)).text
    log_in(client, owner)
    assert post_form(client, "/member/keys", {"name": "x"}).status_code == 403


def test_unknown_and_malformed_keys_are_refused(client):
    for headers in ({}, {"Authorization": "Bearer ccm_nope_nope"}, {"Authorization": "Basic x"}):
        response = client.get("/api/v1/member", headers=headers)
        assert response.status_code == 401
        assert response.json()["detail"]


def test_a_key_needs_a_name(client):
    member = make_member("riverside-food")
    log_in(client, make_account("owner@riverside.example.org", member=member))
    response = post_form(client, "/member/keys", {"name": "  "})
    assert response.status_code == 422
    assert "Give the key a name" in response.text
    with session_scope() as session:
        assert session.exec(select(ApiKey)).all() == []
