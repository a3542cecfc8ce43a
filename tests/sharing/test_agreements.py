"""Offering, accepting and revoking sharing agreements over HTTP, with their history,
counts, and the refusals: another member's topic (403), an expired or revoked offer (409)."""

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from app.db import session_scope, utcnow
from app.sharing.models import SharingAgreement, SharingAgreementEvent
from tests.members.factories import log_in, make_account, make_member, post_form
from tests.sharing.helpers import agreement, owned_topic, person


def test_offer_accept_revoke_keeps_the_history_and_shows_counts(client, run_jobs):
    orchard, bakery = make_member("orchard-coop"), make_member("bakery-coop")
    topic = owned_topic("orchard-news", orchard)
    person("yes@example.org", [topic], sharing=True)
    person("no@example.org", [topic], sharing=False)
    log_in(client, make_account("owner@orchard.example.org", member=orchard))
    offered = post_form(
        client,
        "/member/sharing",
        {
            "receiver": "bakery-coop",
            "topic": "orchard-news",
            "purpose_category": "events",
            "purpose": "Invitations to the harvest fair.",
            "ends_on": (utcnow() + timedelta(days=60)).date().isoformat(),
        },
        follow_redirects=False,
    )
    assert offered.status_code == 303
    with session_scope() as session:
        made = session.exec(select(SharingAgreement)).one()
    bakery_client = client.__class__(client.app)
    log_in(bakery_client, make_account("owner@bakery.example.org", member=bakery))
    accepted = post_form(bakery_client, f"/member/sharing/{made.id}/accept", follow_redirects=False)
    assert accepted.status_code == 303
    page = bakery_client.get("/member/sharing")
    assert (
        "active" in page.text and '<td data-label="People">fewer than 10</td>' in page.text
    )  # one person: never who, and not how few (a tiny count singles people out)
    assert '<td data-label="People">1</td>' not in page.text
    mailings = bakery_client.get("/member/mailings").text
    assert "fewer than 10 people who agreed" in mailings and "(1 person who agreed)" not in mailings
    assert "yes@example.org" not in page.text
    revoked = post_form(client, f"/member/sharing/{made.id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    with session_scope() as session:
        actions = [
            e.action
            for e in session.exec(
                select(SharingAgreementEvent).order_by(SharingAgreementEvent.id)
            ).all()
        ]
    assert actions == ["offered", "accepted", "revoked"]


def test_sharing_a_topic_one_does_not_own_is_403_and_keeps_the_input(client):
    orchard, bakery = make_member("orchard-coop"), make_member("bakery-coop")
    owned_topic("bakery-news", bakery)
    log_in(client, make_account("owner@orchard.example.org", member=orchard))
    response = post_form(
        client,
        "/member/sharing",
        {
            "receiver": "bakery-coop",
            "topic": "bakery-news",
            "purpose_category": "offers",
            "purpose": "Our offers.",
            "ends_on": (utcnow() + timedelta(days=60)).date().isoformat(),
        },
    )
    assert response.status_code == 403
    assert "only share a topic your co-op owns" in response.text
    assert ">Our offers.</textarea>" in response.text
    with session_scope() as session:
        assert session.exec(select(SharingAgreement)).first() is None


def test_accepting_a_revoked_or_expired_offer_is_409(client):
    orchard, bakery = make_member("orchard-coop"), make_member("bakery-coop")
    topic = owned_topic("orchard-news", orchard)
    revoked = agreement(orchard, bakery, topic, accept=False)
    with session_scope() as session:
        session.execute(
            update(SharingAgreement)
            .where(SharingAgreement.id == revoked.id)
            .values(status="revoked")
        )
    expired = agreement(orchard, bakery, topic, accept=False)  # one live offer at a time
    with session_scope() as session:
        session.execute(
            update(SharingAgreement)
            .where(SharingAgreement.id == expired.id)
            .values(ends_at=utcnow() - timedelta(days=1))
        )
    log_in(client, make_account("owner@bakery.example.org", member=bakery))
    for made in (revoked, expired):
        response = post_form(client, f"/member/sharing/{made.id}/accept")
        assert response.status_code == 409, made.id
