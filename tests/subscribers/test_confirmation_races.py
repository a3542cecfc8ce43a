"""Confirming under real concurrency (issue 14): against a real server on PostgreSQL, the
same confirmation link pressed many times at once, together with another outstanding
link of the same person, confirms each consent exactly once: one confirmation per
consent in the ledger, every press answered (confirmed, or "already used"), never an
error, and `coopclub consent verify` passes afterwards."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import select

from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentSource
from app.db import session_scope
from app.subscribers.models import Subscriber, Topic
from app.subscribers.signup import Signup, request_subscription
from tests.members.factories import CSRF_INPUT
from tests.payments.conftest import live_app  # noqa: F401  (the server fixture)
from tests.subscribers.helpers import (
    assert_ledger_verifies,
    make_topics,
    sharing_choices,
    statuses,
)

pytestmark = pytest.mark.postgres

PRESSES = 10  # per link


def _link(email: str, slug: str, *, share: bool) -> str:
    with session_scope() as session:
        topic = session.exec(select(Topic).where(Topic.slug == slug)).one()
        outcome = request_subscription(
            session,
            signup=Signup(
                email=email, topics=[topic], source=ConsentSource.form, share_with_members=share
            ),
        )
    assert outcome.token
    return f"/confirm/{outcome.token}"


def test_simultaneous_confirmations_confirm_each_consent_once(live_app, run_jobs):  # noqa: F811
    make_topics()
    email = "eager@example.org"
    food_link = _link(email, "food", share=True)
    housing_link = _link(email, "housing", share=False)

    # Each press is its own browser: its own cookie and form token, taken beforehand.
    browsers = []
    for url in [food_link] * PRESSES + [housing_link] * PRESSES:
        browser = httpx.Client(base_url=live_app, timeout=60)
        page = browser.get(url)
        assert page.status_code == 200
        data = {"csrf_token": CSRF_INPUT.search(page.text).group(1)}
        if url == food_link:
            data["sharing"] = sharing_choices(page.text)
            assert data["sharing"], "the food link asks for sharing"
        browsers.append((browser, url, data))
    start = threading.Barrier(len(browsers))

    def press(browser: httpx.Client, url: str, data: dict) -> tuple[int, str]:
        start.wait()
        response = browser.post(url, data=data)
        return response.status_code, response.text

    try:
        with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
            answers = [f.result() for f in [pool.submit(press, *b) for b in browsers]]
    finally:
        for browser, _, _ in browsers:
            browser.close()

    assert {status for status, _ in answers} == {200}, Counter(s for s, _ in answers)
    used = sum("already used" in text for _, text in answers)
    assert used == 2 * PRESSES - 2  # one press per link confirmed; the rest were told
    assert statuses(email) == {"food": ("active", "active"), "housing": ("active", None)}

    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        topics = {t.id: t.slug for t in session.exec(select(Topic)).all()}
        confirmed = Counter(
            (str(e.scope), topics[e.topic_id])
            for e in session.exec(
                select(ConsentEvent).where(
                    ConsentEvent.subscriber_key == subscriber.key,
                    ConsentEvent.action == ConsentAction.confirmed,
                )
            )
        )
    assert confirmed == {
        (str(ConsentScope.topic), "food"): 1,
        (str(ConsentScope.sharing), "food"): 1,
        (str(ConsentScope.topic), "housing"): 1,
    }
    assert_ledger_verifies(run_jobs)
