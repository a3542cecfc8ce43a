"""Recruiting credits under real concurrency on PostgreSQL: the database, not luck,
decides.

- Sweeps running at once on several processes grant each matured recruit exactly once.
- A grant and a cancellation racing for one recruit: exactly one of them wins.
- Many confirmations for one member arriving at once never slip past its daily cap.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from app import flows
from app.config import get_settings
from app.db import session_scope
from app.payments.models import CreditEntry
from app.recruiting import service
from app.recruiting.models import RecruitCredit
from app.subscribers.models import Subscriber
from tests.e2e.conftest import link_from_mail
from tests.members.factories import make_key, make_member
from tests.newsletters.factories import make_topic
from tests.recruiting.helpers import end_the_hold, recruits
from tests.subscribers.helpers import hidden

pytestmark = pytest.mark.postgres

PEOPLE = 16


@pytest.fixture
def no_caps(monkeypatch):
    for name in ("recruiting_cap_per_day", "recruiting_cap_per_domain_per_day"):
        monkeypatch.setattr(get_settings(), name, 0)
    monkeypatch.setattr(get_settings(), "signup_limit_per_client", 0)


def _pending_links(server: str, smtp, run_jobs, count: int):
    """`count` people asked to subscribe through the member's API key; their mailed
    confirmation paths. Returns (member, paths)."""
    coop = make_member("riverside")
    make_topic("food")
    auth = {"Authorization": f"Bearer {make_key(coop)[1]}"}
    with httpx.Client(base_url=server, timeout=60) as http:
        for n in range(count):
            response = http.post(
                "/api/v1/subscribe",
                json={"email": f"recruit{n}@example.org", "topics": ["food"]},
                headers=auth,
            )
            assert response.status_code == 202, response.text
    run_jobs()
    paths = []
    for n in range(count):
        (mail,) = smtp.wait_for(f"recruit{n}@example.org")
        paths.append("/confirm/" + link_from_mail(mail, r"/confirm/").split("/confirm/", 1)[1])
    return coop, paths


def _confirm_all_at_once(server: str, paths: list[str]) -> list[int]:
    browsers = []
    for path in paths:  # each person has the confirmation page open, CSRF token in hand
        browser = httpx.Client(base_url=server, timeout=60)
        page = browser.get(path)
        assert page.status_code == 200
        browsers.append((browser, path, hidden(page.text, "csrf_token")))
    start = threading.Barrier(len(browsers))

    def confirm(item) -> int:
        browser, path, csrf = item
        start.wait()
        return browser.post(path, data={"csrf_token": csrf}).status_code

    with ThreadPoolExecutor(max_workers=len(browsers)) as pool:
        codes = list(pool.map(confirm, browsers))
    for browser, *_ in browsers:
        browser.close()
    return codes


def _ledger_entries() -> list[CreditEntry]:
    with session_scope() as session:
        return list(session.exec(select(CreditEntry)).all())


def test_simultaneous_sweeps_grant_each_recruit_exactly_once(live_server, smtp, run_jobs, no_caps):
    _coop, paths = _pending_links(live_server, smtp, run_jobs, PEOPLE)
    assert set(_confirm_all_at_once(live_server, paths)) == {200}
    assert [r[1] for r in recruits()] == ["pending"] * PEOPLE
    end_the_hold()
    sweeps = 4
    start = threading.Barrier(sweeps)

    def sweep(_: int) -> int:
        start.wait()
        with session_scope() as session:
            return service.grant_matured(session)

    with ThreadPoolExecutor(max_workers=sweeps) as pool:
        granted = list(pool.map(sweep, range(sweeps)))
    assert sum(granted) == PEOPLE
    entries = _ledger_entries()
    assert len(entries) == PEOPLE and sum(e.amount for e in entries) == PEOPLE * 500
    with session_scope() as session:
        linked = session.exec(select(RecruitCredit.credit_entry_id)).all()
    assert sorted(linked) == sorted(e.id for e in entries)  # one entry per recruit


def _wait_until_blocked(application_name: str, thread: threading.Thread) -> None:
    """Until the named connection waits for a lock, or its thread is done (then the
    assertions after it tell whether it did the right thing without waiting)."""
    while thread.is_alive():
        with session_scope() as session:
            waiting = session.exec(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name AND wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                ).bindparams(name=application_name)
            ).one()[0]
        if waiting:
            return
        threading.Event().wait(0.02)


def test_a_grant_and_an_erasure_racing_for_one_recruit_have_one_winner(
    live_server, smtp, run_jobs, no_caps
):
    _coop, paths = _pending_links(live_server, smtp, run_jobs, 1)
    assert _confirm_all_at_once(live_server, paths) == [200]
    end_the_hold()
    # The sweep has granted (not yet committed) when the erasure reaches the same row;
    # the erasure must wait for the sweep's commit and then find nothing pending. (The
    # hold has ended, so the erasure would not cancel anyway: move it back first.)
    with session_scope() as session:
        session.execute(text("UPDATE recruit_credit SET matures_at = now() + interval '1 day'"))
    outcome: dict[str, bool] = {}
    with session_scope() as sweep_session:
        # As the sweep sees it: matured (its own statement, under its own clock).
        sweep_session.execute(
            text("UPDATE recruit_credit SET matures_at = now() - interval '1 second'")
        )
        assert service.grant_matured(sweep_session) == 1

        def erase() -> None:
            with session_scope() as session:
                session.execute(text("SET application_name = 'recruiting-erasure'"))
                person = session.exec(select(Subscriber)).one()
                flows.erased(session, subscriber=person)
                outcome["cancelled"] = bool(
                    session.exec(
                        select(RecruitCredit.id).where(col(RecruitCredit.status) == "cancelled")
                    ).first()
                )

        eraser = threading.Thread(target=erase)
        eraser.start()
        _wait_until_blocked("recruiting-erasure", eraser)
    eraser.join()
    assert outcome == {"cancelled": False}
    assert [r[1] for r in recruits()] == ["granted"]
    assert len(_ledger_entries()) == 1


def test_simultaneous_confirmations_never_pass_the_daily_cap(
    live_server, smtp, run_jobs, no_caps, monkeypatch
):
    monkeypatch.setattr(get_settings(), "recruiting_cap_per_day", 5)
    _coop, paths = _pending_links(live_server, smtp, run_jobs, PEOPLE)
    codes = _confirm_all_at_once(live_server, paths)
    assert set(codes) == {200}, codes
    statuses = [r[1] for r in recruits()]
    assert statuses.count("pending") == 5 and statuses.count("over-cap") == PEOPLE - 5
