"""A recorded request is never lost: its row stays until the job has done its work, and
the sweep sends the job again when the message was lost or the worker died."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlmodel import select

from app import intake, jobs
from app.config import get_settings
from app.db import get_engine, session_scope, utcnow
from app.intake import IntakeRequest
from tests.subscribers.helpers import (
    assert_ledger_verifies,
    confirm_from_mail,
    link_in,
    make_topics,
    statuses,
)


def test_a_lost_job_is_sent_again_by_the_sweep(client, smtp, run_jobs, worker):
    make_topics()
    run_jobs()
    worker.pause()
    try:
        answer = client.post(
            "/api/v1/subscribe", json={"email": "lost@example.org", "topics": ["food"]}
        )
        assert answer.status_code == 202
        jobs.broker.flush_all()  # the message is lost (a broker restart, a killed worker)
    finally:
        worker.resume()
    run_jobs()
    assert statuses("lost@example.org") == {}  # nothing happened yet, but…
    with session_scope() as session:
        (row,) = session.exec(select(IntakeRequest)).all()
        assert row.kind == "subscribe" and "lost@example.org" in row.payload

    jobs.run_sweeps()  # not stale yet: the sweep leaves it to its job
    run_jobs()
    assert statuses("lost@example.org") == {}
    with session_scope() as session:
        session.execute(update(IntakeRequest).values(enqueued_at=utcnow() - timedelta(minutes=3)))
    jobs.run_sweeps()
    run_jobs()
    assert statuses("lost@example.org") == {"food": ("pending", None)}
    assert "/confirm/" in link_in(smtp.wait_for("lost@example.org")[0], "confirm")
    with session_scope() as session:
        assert session.exec(select(IntakeRequest)).all() == []  # the address is not kept


def test_a_job_sent_twice_does_the_work_once(client, smtp, run_jobs, worker):
    make_topics()
    run_jobs()
    worker.pause()
    try:
        client.post("/api/v1/subscribe", json={"email": "twice@example.org", "topics": ["food"]})
        with session_scope() as session:
            (row,) = session.exec(select(IntakeRequest)).all()
        from app.intake import PROCESS_INTAKE

        jobs.send_now(PROCESS_INTAKE, row.id)  # a sweep's copy racing the original
    finally:
        worker.resume()
    run_jobs()
    smtp.wait_for("twice@example.org")
    assert len(smtp.to("twice@example.org")) == 1
    assert statuses("twice@example.org") == {"food": ("pending", None)}


def test_the_confirmation_is_in_the_language_of_the_signup(client, smtp, run_jobs):
    make_topics()
    client.post(
        "/api/v1/subscribe",
        json={"email": "lea@example.org", "topics": ["food"]},
        headers={"Accept-Language": "fr-CA,fr;q=0.9"},
    )
    run_jobs()
    (mail,) = smtp.wait_for("lea@example.org")
    assert mail.message["Subject"] == "Veuillez confirmer votre abonnement"
    with session_scope() as session:
        from app.subscribers.models import Subscriber

        lea = session.exec(select(Subscriber).where(Subscriber.email == "lea@example.org")).one()
        assert lea.language == "fr"


def test_a_request_that_always_fails_is_given_up_and_the_admins_told_once(
    client, smtp, run_jobs, worker
):
    from app.intake import MAX_ATTEMPTS
    from app.members.models import Role
    from tests.members.factories import make_account
    from workers.intake import process_intake

    make_account("admin@club.example.org", role=Role.admin)
    make_topics()
    run_jobs()
    with session_scope() as session:
        # What a bug would leave behind: a request its handler cannot read.
        rows = [IntakeRequest(kind="subscribe", payload="{}") for _ in range(2)]
        session.add_all(rows)
    for row in rows:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with pytest.raises(KeyError):
                process_intake.fn(row.id)
            with session_scope() as session:
                stored = session.get(IntakeRequest, row.id)
                assert stored.attempts == attempt and stored.last_error == "builtins.KeyError"
        process_intake.fn(row.id)  # one more: given up, not tried
    with session_scope() as session:
        assert session.exec(select(IntakeRequest)).all() == []  # nothing loops, no address kept
    run_jobs()
    (alert,) = smtp.wait_for("admin@club.example.org")  # two given up, one alert this hour
    assert "could not be done" in alert.message["Subject"]
    assert "builtins.KeyError" in alert.text()


def test_a_batch_does_its_signups_together_each_as_if_done_alone(
    client, smtp, run_jobs, worker, monkeypatch
):
    """A job's batch hands all its signups to one call: a few statements for the lot
    (about ten for each round of distinct addresses), where it took about five per
    signup. Each person still gets what a signup done alone gives: a new address its
    confirmation, one asking twice two links, one already subscribed the "already
    subscribed" mail."""
    monkeypatch.setattr(get_settings(), "signup_limit_per_client", 0)  # one client, 22 asks
    make_topics()
    client.post("/api/v1/subscribe", json={"email": "old@example.org", "topics": ["food"]})
    assert confirm_from_mail(client, smtp, "old@example.org", run_jobs).status_code == 200
    run_jobs()
    new = [f"new{n:02d}@example.org" for n in range(16)]
    asked = [*new[:8], "twice@example.org", "old@example.org", *new[8:], "twice@example.org"]
    asked.insert(5, "lea@example.org")  # asks in French, in the same batch
    worker.pause()
    try:
        for address in asked:
            topics = ["food"] if address == "old@example.org" else ["food", "housing"]
            language = "fr" if address == "lea@example.org" else "en"
            answer = client.post(
                "/api/v1/subscribe",
                json={"email": address, "topics": topics},
                headers={"Accept-Language": language},
            )
            assert answer.status_code == 202
        jobs.broker.flush_all()  # the requests' own jobs: they would find their rows gone

        def batch() -> None:
            with session_scope() as session:
                first = min(session.exec(select(IntakeRequest.id)).all())
                assert intake.process_batch(session, first, size=len(asked))

        statements = _statements(batch)
    finally:
        worker.resume()
    assert len(statements) < 2 * len(asked), statements
    with session_scope() as session:
        assert session.exec(select(IntakeRequest)).all() == []
    run_jobs()
    for address in new:
        assert statuses(address) == {"food": ("pending", None), "housing": ("pending", None)}
        assert len(smtp.wait_for(address)) == 1
    first_link, second_link = (link_in(m, "confirm") for m in smtp.wait_for("twice@example.org", 2))
    assert first_link != second_link
    (french,) = smtp.wait_for("lea@example.org")
    assert french.message["Subject"] == "Veuillez confirmer votre abonnement"
    assert statuses("old@example.org") == {"food": ("active", None)}
    _confirmation, already = smtp.wait_for("old@example.org", 2)
    assert already.message["Subject"] == "You are already subscribed"
    assert_ledger_verifies(run_jobs)


def _requests() -> list[tuple[int, str]]:
    """Each waiting request as its job's message names it: id and creation time."""
    with session_scope() as session:
        rows = session.exec(select(IntakeRequest).order_by(IntakeRequest.id)).all()
        return [(row.id, intake.created_key(row.created_at)) for row in rows]


def _statements(job) -> list[str]:  # type: ignore[no-untyped-def]
    """The SQL statements `job()` sends."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        job()
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    return statements


def test_the_jobs_of_requests_a_batch_did_end_without_asking_the_database(
    client, smtp, run_jobs, worker
):
    make_topics()
    run_jobs()
    addresses = [f"b{n}@example.org" for n in range(5)]
    worker.pause()
    try:
        for address in addresses:
            answer = client.post("/api/v1/subscribe", json={"email": address, "topics": ["food"]})
            assert answer.status_code == 202
        jobs.broker.flush_all()  # their jobs are run below, one by one
        first, *others = _requests()
        intake.run(*first)  # takes the other four into its batch
        for request in others:
            assert _statements(lambda request=request: intake.run(*request)) == []
        # The same id made at another time (SQLite reuses ids) is not taken for done, nor
        # is a job sent without the time (the sweep's): both ask the database.
        request_id, _created = others[0]
        made_later = intake.created_key(utcnow())
        assert _statements(lambda: intake.run(request_id, made_later)) != []
        assert _statements(lambda: intake.run(request_id)) != []
    finally:
        worker.resume()
    run_jobs()
    for address in addresses:
        assert len(smtp.wait_for(address)) == 1


def test_a_batch_that_failed_marks_nothing_done(client, smtp, run_jobs, worker):
    make_topics()
    run_jobs()
    worker.pause()
    try:
        client.post("/api/v1/subscribe", json={"email": "own@example.org", "topics": ["food"]})
        with session_scope() as session:  # a request its handler cannot read fails the batch
            session.add(IntakeRequest(kind="subscribe", payload="{}"))
        client.post("/api/v1/subscribe", json={"email": "next@example.org", "topics": ["food"]})
        jobs.broker.flush_all()
        own, _broken, following = _requests()
        intake.run(*own)  # the batch fails; its own request is done alone
        assert _statements(lambda: intake.run(*following)) != []  # not marked: its own work
    finally:
        worker.resume()
    run_jobs()
    assert len(smtp.wait_for("own@example.org")) == 1
    assert len(smtp.wait_for("next@example.org")) == 1
