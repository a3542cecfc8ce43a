"""Withdrawing sharing under real concurrency: the same one-click "stop offers from this
member" link pressed many times at once (a mail client's pre-fetch, an impatient person)
against a real server on PostgreSQL records exactly one withdrawal in the ledger, and
every press gets an answer, never an error. The same for an erasure, a one-click
unsubscribe and a preference-centre save that switches sharing on."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import select

from app.config import get_settings
from app.consent.models import ConsentAction, ConsentEvent, ConsentScope
from app.db import session_scope
from app.sharing.models import SharingWithdrawal
from app.subscribers.models import Subscriber
from app.subscribers.service import preferences_token, unsubscribe_url
from tests.members.factories import CSRF_INPUT, make_member
from tests.payments.conftest import live_app  # noqa: F401  (the server fixture)
from tests.sharing.helpers import agreement, owned_topic, person

pytestmark = pytest.mark.postgres

AT_ONCE = 16


def test_one_click_withdrawal_pressed_at_once_is_recorded_once(live_app):  # noqa: F811
    offering, receiving = make_member("bakery"), make_member("orchard")
    topic = owned_topic("bread", offering)
    subscriber = person("consents@example.org", [topic], sharing=True)
    agreement(offering, receiving, topic)
    url = f"{live_app}/sharing/stop/{receiving.id}/{preferences_token(subscriber)}"

    def press() -> int:
        return httpx.post(url, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        codes = [f.result() for f in [pool.submit(press) for _ in range(AT_ONCE)]]

    assert codes == [200] * AT_ONCE
    with session_scope() as session:
        withdrawals = session.exec(
            select(ConsentEvent).where(
                ConsentEvent.scope == ConsentScope.sharing,
                ConsentEvent.action == ConsentAction.withdrawn,
                ConsentEvent.member_id == receiving.id,
            )
        ).all()
        rows = session.exec(select(SharingWithdrawal)).all()
    assert len(withdrawals) == 1
    assert [(r.subscriber_id, r.member_id) for r in rows] == [(subscriber.id, receiving.id)]


def test_one_click_unsubscribe_pressed_at_once_withdraws_each_consent_once(live_app):  # noqa: F811
    offering = make_member("bakery")
    bread, cakes = owned_topic("bread", offering), owned_topic("cakes", offering)
    subscriber = person("consents@example.org", [bread, cakes], sharing=True)
    url = unsubscribe_url(subscriber, None).replace(get_settings().base_url, live_app)

    def press() -> int:
        return httpx.post(url, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        codes = [f.result() for f in [pool.submit(press) for _ in range(AT_ONCE)]]

    assert codes == [200] * AT_ONCE
    with session_scope() as session:
        withdrawn = session.exec(
            select(ConsentEvent.scope, ConsentEvent.topic_id).where(
                ConsentEvent.action == ConsentAction.withdrawn
            )
        ).all()
    # Each topic and each topic's sharing, once.
    assert sorted(withdrawn) == sorted(
        (scope, topic.id)
        for scope in (ConsentScope.topic, ConsentScope.sharing)
        for topic in (bread, cakes)
    )


def test_erasure_pressed_at_once_erases_once(live_app):  # noqa: F811
    offering = make_member("bakery")
    subscriber = person("consents@example.org", [owned_topic("bread", offering)], sharing=False)
    path = f"/preferences/{preferences_token(subscriber)}"
    with httpx.Client(base_url=live_app, timeout=60) as browser:
        token = CSRF_INPUT.search(browser.get(path).text).group(1)
        cookies = dict(browser.cookies)

    def press() -> int:
        form = {"csrf_token": token, "action": "erase_confirmed"}
        return httpx.post(f"{live_app}{path}", data=form, cookies=cookies, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        codes = [f.result() for f in [pool.submit(press) for _ in range(AT_ONCE)]]

    assert set(codes) <= {200, 404} and 200 in codes  # 404: "already erased", never a 500
    with session_scope() as session:
        erased = session.exec(
            select(ConsentEvent).where(ConsentEvent.action == ConsentAction.erased)
        ).all()
        left = session.exec(select(Subscriber)).all()
    assert len(erased) == 1 and left == []


def test_a_preference_save_pressed_at_once_gives_sharing_once(live_app):  # noqa: F811
    offering = make_member("bakery")
    bread, cakes = owned_topic("bread", offering), owned_topic("cakes", offering)
    person("consents@example.org", [bread, cakes], sharing=False)
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber)).one()
    path = f"/preferences/{preferences_token(subscriber)}"
    with httpx.Client(base_url=live_app, timeout=60) as browser:
        token = CSRF_INPUT.search(browser.get(path).text).group(1)
        cookies = dict(browser.cookies)
    form = {
        "csrf_token": token,
        "action": "save",
        "topics": [str(bread.id), str(cakes.id)],
        "sharing": [str(cakes.id)],
    }

    def press() -> int:
        return httpx.post(f"{live_app}{path}", data=form, cookies=cookies, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        codes = [f.result() for f in [pool.submit(press) for _ in range(AT_ONCE)]]

    assert codes == [200] * AT_ONCE
    with session_scope() as session:
        sharing = session.exec(
            select(ConsentEvent.action, ConsentEvent.topic_id).where(
                ConsentEvent.scope == ConsentScope.sharing
            )
        ).all()
    # One request and its confirmation, on cakes only; nothing for bread.
    assert sorted(sharing) == sorted(
        [(ConsentAction.requested, cakes.id), (ConsentAction.confirmed, cakes.id)]
    )
