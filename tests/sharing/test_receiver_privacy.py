"""No page, export or API answer a receiving member can reach shows a shared
subscriber's address: every member-scoped GET route is taken from the app's own route
table (as tests/auth/test_member_scope.py does), so a new route cannot escape."""

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlmodel import select

from app.auth.deps import api_member, member_owner, member_staff
from app.db import session_scope
from app.main import create_app
from app.members.models import Member
from app.sharing import mailings
from tests.auth.test_member_scope import depends_on
from tests.members.factories import log_in, make_account, make_key, make_member
from tests.sharing.helpers import agreement, owned_topic, person, submitted_mailing

SHARED = "shared-person@example.org"


def receiver_get_routes() -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        if depends_on(route, {member_staff, member_owner}):
            found.append((context.path, "session"))
        elif depends_on(route, {api_member}):
            found.append((context.path, "key"))
    return found


ROUTES = receiver_get_routes()


@pytest.fixture
def receiver(run_jobs):
    offering, receiving = make_member("orchard-coop"), make_member("bakery-coop")
    orchard = owned_topic("orchard-news", offering)
    bakery = owned_topic("bakery-news", receiving)
    person(SHARED, [orchard], sharing=True, source=ConsentSource.embed, member=offering)
    person("own@example.org", [bakery], sharing=True)
    agreement(offering, receiving, orchard)
    agreement(offering, receiving, None)  # "the people I recruited" too
    mailing = submitted_mailing(receiving)
    owner = make_account("owner@bakery.example.org", member=receiving)
    _key, secret = make_key(receiving)
    with session_scope() as session:
        from sqlmodel import select

        from app.sharing.models import SharingAgreement

        agreement_id = session.exec(select(SharingAgreement.id)).first()
        with_ids = {"mailing_id": mailing.id, "agreement_id": agreement_id}
        with_ids.update({"key_id": _key, "account_id": owner.id, "booking_id": 1})
    return {"owner": owner, "secret": secret, "ids": with_ids}


from app.consent.models import ConsentSource  # noqa: E402


def test_the_shared_person_is_really_in_the_receivers_audience(receiver):
    with session_scope() as session:
        member = session.exec(select(Member).where(Member.slug == "bakery-coop")).one()
        assert mailings.counts(session, member) == (1, 1)


@pytest.mark.parametrize(("path", "kind"), ROUTES)
def test_no_receiver_route_shows_a_shared_address(client, receiver, path, kind):
    url = path.format(**{p: receiver["ids"].get(p, 1) for p in re.findall(r"{(\w+)}", path)})
    if kind == "session":
        log_in(client, receiver["owner"])
        response = client.get(url, follow_redirects=False)
    else:
        response = client.get(url, headers={"Authorization": f"Bearer {receiver['secret']}"})
    assert SHARED not in response.text, url
    assert "shared-person" not in response.text, url


def test_the_receivers_export_holds_only_its_own_subscribers_with_consent_times(client, receiver):
    log_in(client, receiver["owner"])
    response = client.get("/member/subscribers.csv")
    assert response.status_code == 200
    lines = response.text.strip().splitlines()
    assert lines[0] == "email,first_name,topic,consent_confirmed_at"
    assert len(lines) == 2 and lines[1].startswith("own@example.org,,bakery-news,20")
    assert SHARED not in response.text
