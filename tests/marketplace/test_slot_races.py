"""An issue's slots are created the first time anyone looks (members, admins, the sweep).
When many look at once, on PostgreSQL, each slot is still created once and nobody sees
an error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from app.db import session_scope, utcnow
from app.jobs import run_sweeps
from app.marketplace.models import Slot
from app.newsletters import service as newsletters
from app.newsletters.models import Issue
from tests.members.factories import make_key, make_member
from tests.newsletters.factories import make_issue, make_newsletter, make_topic
from tests.payments.conftest import live_app  # noqa: F401  (the app on a real uvicorn)

pytestmark = pytest.mark.postgres

AT_ONCE = 16


def scheduled_issue_without_slots() -> Issue:
    """A scheduled issue whose sponsor and classified blocks nobody has looked at yet."""
    newsletter = make_newsletter("commons", topics=[make_topic("commons-topic")])
    issue = make_issue(newsletter)
    with session_scope() as session:
        issue = session.get(Issue, issue.id)
        newsletters.schedule(session, issue, send_at=utcnow() + timedelta(days=3), timezone="UTC")
        assert session.exec(select(Slot).where(Slot.issue_id == issue.id)).all() == []
    return issue


def slot_positions(issue: Issue) -> list[int]:
    with session_scope() as session:
        return sorted(
            s.position for s in session.exec(select(Slot).where(Slot.issue_id == issue.id))
        )


def test_members_listing_a_new_issue_at_once_all_see_its_slots_created_once(live_app):  # noqa: F811
    issue = scheduled_issue_without_slots()
    # A key each: a key's first request in a while stores when it was last used, so
    # requests sharing one key would queue behind that row's lock instead of racing.
    secrets = [make_key(make_member(f"coop-{n}"))[1] for n in range(AT_ONCE)]
    barrier = threading.Barrier(AT_ONCE)

    def look(secret: str) -> tuple[int, int]:
        with httpx.Client(base_url=live_app, timeout=60) as http:
            barrier.wait()
            response = http.get("/api/v1/slots", headers={"Authorization": f"Bearer {secret}"})
        slots = response.json()[0]["slots"] if response.status_code == 200 else []
        return response.status_code, len(slots)

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        outcomes = [f.result() for f in [pool.submit(look, secret) for secret in secrets]]
    assert outcomes == [(200, 3)] * AT_ONCE
    assert slot_positions(issue) == [2, 4, 5]  # the default layout's sponsor and classifieds


def test_sweeps_running_together_create_each_slot_once_and_fail_nowhere():
    issue = scheduled_issue_without_slots()
    barrier = threading.Barrier(4)

    def sweep() -> dict[str, str]:
        barrier.wait()
        return run_sweeps()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [f.result() for f in [pool.submit(sweep) for _ in range(4)]]
    assert [o["marketplace"] for o in outcomes] == ["ok"] * 4
    assert {outcome for o in outcomes for outcome in o.values()} == {"ok"}
    assert slot_positions(issue) == [2, 4, 5]  # the default layout's sponsor and classifieds
