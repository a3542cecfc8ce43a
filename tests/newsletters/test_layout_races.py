"""Two admins changing one issue's layout at once, on PostgreSQL: they take turns, so
every new block gets a position of its own (a slot is keyed by its block's position)
and moves leave every position used once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import select

from app.db import session_scope
from app.marketplace import layout
from app.newsletters import blocks
from app.newsletters.models import BlockKind, Issue, IssueBlock
from tests.newsletters.factories import make_issue, make_newsletter, make_topic

pytestmark = pytest.mark.postgres

AT_ONCE = 8


def at_once(work) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(AT_ONCE)

    def run(n: int) -> None:
        with session_scope() as session:
            barrier.wait()
            work(session, n)

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        for done in [pool.submit(run, n) for n in range(AT_ONCE)]:
            done.result()


def positions(issue_id: int) -> list[int]:
    with session_scope() as session:
        return sorted(
            b.position
            for b in session.exec(select(IssueBlock).where(IssueBlock.issue_id == issue_id))
        )


def test_blocks_added_and_moved_at_once_each_keep_a_position_of_their_own():
    issue = make_issue(make_newsletter("commons", topics=[make_topic("commons-topic")]))
    before = positions(issue.id)

    def add(session, n):  # type: ignore[no-untyped-def]
        kind = BlockKind.classified if n % 2 else BlockKind.text
        blocks.add_block(session, session.get(Issue, issue.id), kind)

    at_once(add)
    after = positions(issue.id)
    assert len(after) == len(before) + AT_ONCE
    assert len(set(after)) == len(after)

    with session_scope() as session:
        movable = [b.id for b in blocks.blocks_of(session, issue.id) if not b.required]

    def move(session, n):  # type: ignore[no-untyped-def]
        own = session.get(Issue, issue.id)
        layout.move_block(session, own, movable[n % len(movable)], 1 if n % 2 else -1)

    at_once(move)
    assert positions(issue.id) == after
