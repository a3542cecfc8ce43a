"""The admin overview draws subscribers per topic over time from the consent ledger."""

from __future__ import annotations

import re

from sqlmodel import select

from app import demo
from app.consent.models import ConsentAction, ConsentScope, ConsentSource
from app.consent.service import record_consent
from app.db import session_scope
from app.members.models import Role
from app.subscribers.models import Subscriber, Topic
from tests.members.factories import log_in, make_account


def legend(page: str) -> dict[str, int]:
    return {
        name: int(count)
        for name, count in re.findall(r"</span>([^<:]+): <strong>(\d+)</strong></li>", page)
    }


def test_overview_shows_an_empty_state_then_a_chart_that_follows_the_ledger(client):
    log_in(client, make_account("sam@club.example.org", role=Role.admin))
    page = client.get("/admin").text
    assert "Nobody has confirmed a subscription yet." in page and "<svg" not in page

    with session_scope() as session:
        demo.seed(session)
    page = client.get("/admin").text
    assert 'role="img" aria-label="Subscribers per topic"' in page
    assert legend(page)["Food co-ops"] == 7
    assert legend(page)["Housing"] == 4

    with session_scope() as session:
        priya = session.exec(select(Subscriber).where(Subscriber.email == "priya@example.org"))
        food = session.exec(select(Topic).where(Topic.slug == "food-coops")).one()
        record_consent(
            session,
            subscriber=priya.one(),
            scope=ConsentScope.topic,
            action=ConsentAction.withdrawn,
            source=ConsentSource.form,
            consent_text=None,
            token_digest=None,
            topic=food,
        )
    assert legend(client.get("/admin").text)["Food co-ops"] == 6
