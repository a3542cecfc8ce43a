"""Many requests at once against a real server on PostgreSQL: the database, not luck,
keeps the data right.

- 200 simultaneous signups of one address: one subscriber, one subscription, the
  per-address rate limit holds (at most 5 accepted, the rest 429), one confirmation
  mail per accepted request, and every mailed link opens.
- A person's confirmation and one-click unsubscribe arriving together, for many people:
  each subscription ends in the state its last ledger event says (an unsubscribe that
  came first declines the request: no subscription, the last event "declined"), and
  `coopclub consent verify` (a real subprocess) finds the chain intact.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from app.config import get_settings
from app.consent.models import ConsentAction, ConsentEvent, ConsentScope
from app.db import session_scope
from app.subscribers import signup
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from app.subscribers.service import subscriber_by_email, unsubscribe_token
from tests.security.conftest import FIGURES
from tests.subscribers.helpers import hidden, make_topics

pytestmark = pytest.mark.postgres

SIGNUPS = 200
PEOPLE = 30


def test_200_simultaneous_signups_of_one_address(live_server, smtp, run_jobs):
    make_topics()
    address = "rush@example.org"

    def sign_up(_: int) -> int:
        with httpx.Client(base_url=live_server, timeout=60) as http:
            return http.post(
                "/api/v1/subscribe", json={"email": address, "topics": ["food"]}
            ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(sign_up, range(SIGNUPS)))
    FIGURES["concurrent signup requests"] += SIGNUPS
    accepted = codes.count(202)
    assert set(codes) <= {202, 429}, sorted(set(codes))
    assert 1 <= accepted <= get_settings().signup_limit_per_address
    run_jobs()  # the accepted requests' jobs
    with session_scope() as session:
        subscribers = session.exec(select(Subscriber).where(Subscriber.email == address)).all()
        assert len(subscribers) == 1
        subscriptions = session.exec(
            select(Subscription).where(Subscription.subscriber_id == subscribers[0].id)
        ).all()
        assert [s.status for s in subscriptions] == [SubscriptionStatus.pending]
    run_jobs()
    mails = smtp.wait_for(address, count=accepted)
    assert len(mails) == accepted  # one confirmation per accepted request, no more
    links = [re.search(r"http://testserver(/confirm/[\w.\-]+)", m.text()).group(1) for m in mails]
    with httpx.Client(base_url=live_server) as http:
        usable = [link for link in links if http.get(link).status_code == 200]
    assert len(usable) == accepted  # every mailed link keeps working until it expires


def _make_pending(count: int) -> list[tuple[str, str]]:
    """(confirmation path, unsubscribe path) for `count` people with a pending topic."""
    make_topics()
    links = []
    with session_scope() as session:
        food = session.exec(select(Topic).where(Topic.slug == "food")).one()
        for n in range(count):
            address = f"person{n}@example.org"
            token = signup.request_subscription(
                session,
                signup=signup.Signup(email=address, topics=[food], source=signup.ConsentSource.api),
            ).token
            person = subscriber_by_email(session, address)
            links.append(
                (
                    f"/confirm/{token}",
                    f"/u/{unsubscribe_token(person, None)}",
                )
            )
    return links


def test_confirm_and_unsubscribe_at_once_leave_a_consistent_ledger(live_server):
    links = _make_pending(PEOPLE)
    # Each person's browser has the confirmation page open (CSRF token in hand).
    prepared = []
    for confirm_path, unsubscribe_path in links:
        browser = httpx.Client(base_url=live_server, timeout=60)
        page = browser.get(confirm_path)
        assert page.status_code == 200
        prepared.append((browser, confirm_path, hidden(page.text, "csrf_token"), unsubscribe_path))

    def confirm(item) -> int:
        browser, path, csrf, _ = item
        return browser.post(path, data={"csrf_token": csrf}).status_code

    def unsubscribe(item) -> int:
        with httpx.Client(base_url=live_server, timeout=60) as mail_client:
            return mail_client.post(
                item[3],
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ).status_code

    with ThreadPoolExecutor(max_workers=2 * PEOPLE) as pool:
        futures = [pool.submit(f, item) for item in prepared for f in (confirm, unsubscribe)]
        codes = [f.result() for f in futures]
    for browser, *_ in prepared:
        browser.close()
    FIGURES["concurrent confirm/unsubscribe requests"] += len(codes)
    assert all(code < 500 for code in codes), codes

    final = {
        SubscriptionStatus.active: ConsentAction.confirmed,
        SubscriptionStatus.unsubscribed: ConsentAction.withdrawn,
        SubscriptionStatus.pending: ConsentAction.requested,
    }
    with session_scope() as session:
        people = session.exec(select(Subscriber).where(col(Subscriber.email).like("person%"))).all()
        assert len(people) == PEOPLE
        for person in people:
            subscriptions = session.exec(
                select(Subscription).where(Subscription.subscriber_id == person.id)
            ).all()
            last = session.exec(
                select(ConsentEvent)
                .where(
                    ConsentEvent.subscriber_key == person.key,
                    ConsentEvent.scope == ConsentScope.topic,
                )
                .order_by(col(ConsentEvent.id).desc())
            ).first()
            if not subscriptions:
                # The unsubscribe came first: a request never confirmed is declined and
                # leaves no subscription; the confirmation then finds nothing to confirm.
                assert last.action == ConsentAction.declined, person.email
                continue
            (subscription,) = subscriptions
            assert final[subscription.status] == last.action, (person.email, subscription.status)

    verify = subprocess.run(
        [str(Path(sys.executable).parent / "coopclub"), "consent", "verify"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
