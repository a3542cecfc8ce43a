"""The consent log under real concurrency on PostgreSQL: 8 processes append 200 consent
changes each while a sequencer runs and is killed at random moments. Every event ends up
in the log exactly once, every checkpoint ever signed lies on one history (no fork), and
`coopclub consent verify` passes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from sqlmodel import col, func, select

from app.cli import cli
from app.consent import log as consent_log
from app.consent.logverify import open_checkpoint, verify_consistency
from app.consent.models import ConsentCheckpoint, ConsentEvent, ConsentLogEntry
from app.db import session_scope
from app.subscribers import signup
from app.subscribers.models import Topic
from app.subscribers.service import subscriber_by_email
from tests.subscribers.helpers import make_topics

pytestmark = pytest.mark.postgres

WRITERS = 8
CHANGES = 200


def _people() -> tuple[list[int], int]:
    make_topics()
    ids = []
    with session_scope() as session:
        food = session.exec(select(Topic).where(Topic.slug == "food")).one()
        for n in range(WRITERS):
            signup.request_subscription(
                session,
                signup=signup.Signup(
                    email=f"w{n}@example.org", topics=[food], source=signup.ConsentSource.api
                ),
            )
            ids.append(subscriber_by_email(session, f"w{n}@example.org").id)
        return ids, food.id


def _sequencer() -> subprocess.Popen:
    loop = (
        "import time\n"
        "from app.consent import log\n"
        "from app.db import session_scope\n"
        "while True:\n"
        "    with session_scope() as s:\n"
        "        log.integrate(s, batch=50)\n"
        "    time.sleep(0.01)\n"
    )
    return subprocess.Popen([sys.executable, "-c", loop], env=os.environ.copy())  # noqa: S603


def test_eight_writers_and_a_killed_sequencer_leave_one_history(run_jobs):
    people, topic_id = _people()
    writers = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "tests.consent.log_writer", str(p), str(topic_id), str(CHANGES)],
            env=os.environ.copy(),
        )
        for p in people
    ]
    rng = random.Random(15)  # noqa: S311
    kills = 0
    while any(w.poll() is None for w in writers):
        sequencer = _sequencer()
        time.sleep(rng.uniform(0.2, 1.5))
        sequencer.send_signal(signal.SIGKILL)  # mid-batch, wherever it is
        sequencer.wait()
        kills += 1
    assert all(w.wait() == 0 for w in writers)
    assert kills >= 1
    run_jobs()
    result = CliRunner().invoke(cli, ["consent", "sequence", "--full"])
    assert result.exit_code == 0, result.output

    with session_scope() as session:
        events = session.exec(select(func.count()).select_from(ConsentEvent)).one()
        entries = session.exec(select(func.count()).select_from(ConsentLogEntry)).one()
        assert events >= WRITERS * CHANGES
        assert entries == events  # each event exactly once (event_id is unique)
        top = session.exec(select(func.max(ConsentLogEntry.log_index))).one()
        assert top == entries - 1  # no gaps
        checkpoints = session.exec(
            select(ConsentCheckpoint).order_by(col(ConsentCheckpoint.size))
        ).all()
        verifier = consent_log.log_verifier()
        signed = [open_checkpoint(c.note, verifier) for c in checkpoints]
        latest = signed[-1]
        for old in signed[:-1]:  # every checkpoint ever published lies on one history
            proof = consent_log.prove_consistency(session, old.size, latest.size)
            verify_consistency(old.size, latest.size, old.root_hash, latest.root_hash, proof)
    verdict = CliRunner().invoke(cli, ["consent", "verify"])
    assert verdict.exit_code == 0, verdict.output
    print(f"consent log: {entries} events, {len(checkpoints)} checkpoints, {kills} kills")
