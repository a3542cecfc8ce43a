"""Imports as jobs: chunks commit one by one with the report so far; nobody who withdrew,
was erased, bounced or complained is asked again (issue 14, finding 6)."""

import threading
from collections import Counter

from sqlmodel import col, select

from app.db import session_scope
from app.subscribers import importer
from app.subscribers.models import ImportJob, JobStatus, Subscriber
from app.subscribers.service import suppress
from tests.admin.helpers import as_admin, reader
from tests.members.factories import csrf_for_logged_in
from tests.subscribers.helpers import make_topics, statuses


def _upload(client, content: str, topic_ids: list[int]):
    response = client.post(
        "/admin/import",
        data={"csrf_token": csrf_for_logged_in(client), "topics": [str(t) for t in topic_ids]},
        files={"file": ("people.csv", content.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _stored_job(topic_id: int, content: str) -> int:
    """The job row as an upload stores it, without its message: this test is the worker."""
    with session_scope() as session:
        job = ImportJob(
            filename="people.csv",
            topic_ids=str(topic_id),
            content=content,
            total_rows=importer.check_file(content),
        )
        session.add(job)
        session.flush()
        return job.id


def test_nobody_who_said_no_is_asked_again_and_the_report_says_why(client, smtp, run_jobs):
    ids = make_topics()
    left = reader(client, smtp, run_jobs, "left@example.org", ["food", "housing"])
    reader(client, smtp, run_jobs, "erased@example.org", ["food"])
    reader(client, smtp, run_jobs, "active@example.org", ["food"])
    admin_client = client
    as_admin(admin_client)
    # "Unsubscribe from everything", then erasure, from the person's own links.
    with session_scope() as session:
        from app.subscribers import preferences

        person = session.get(Subscriber, left)
        preferences.unsubscribe(session, subscriber=person, topic_ids=None, token=None)
        erased = session.exec(
            select(Subscriber).where(Subscriber.email == "erased@example.org")
        ).one()
        preferences.erase(session, subscriber=erased)
        suppress(session, "bounced@example.org", "hard-bounce")
        suppress(session, "complained@example.org", "complaint")
    smtp.clear()
    csv_text = "email\n" + "\n".join(
        f"{name}@example.org"
        for name in ("left", "erased", "bounced", "complained", "active", "new")
    )
    url = _upload(client, csv_text + "\n", [ids["food"]])
    run_jobs()
    page = client.get(url)
    assert 'data-field="counts.accepted">1</strong> accepted' in page.text
    assert 'data-field="skipped">4</strong> skipped' in page.text
    for reason, line in (
        ("unsubscribed earlier", 2),
        ("erased at their request", 3),
        ("their address bounced", 4),
        ("they reported our mail as spam", 5),
    ):
        assert f'<td>{reason}</td><td>1</td><td class="lines">{line}</td>' in page.text
    assert "already on these lists" in page.text
    run_jobs()
    assert [m.message["To"] for m in smtp.messages] == ["new@example.org"]
    assert statuses("left@example.org") == {
        "food": ("unsubscribed", None),
        "housing": ("unsubscribed", None),
    }


def test_an_import_runs_in_chunks_each_committed_with_its_checkpoint(client):
    ids = make_topics()
    as_admin(client)
    rows = importer.CHUNK * 2 + 7
    content = "email\n" + "".join(f"p{n}@example.org\n" for n in range(rows))
    job_id = _stored_job(ids["food"], content + "p3@example.org\n")
    url = f"/admin/imports/{job_id}"
    run = importer.ImportRun(job_id)
    with session_scope() as session:
        assert run.chunk(session) is True
    progress = client.get(url + "/progress").json()
    # A chunk ends after CHUNK rows or CHUNK_SECONDS, whichever comes first.
    assert 0 < progress["rows_done"] <= importer.CHUNK and progress["status"] == "running"
    assert progress["counts"]["accepted"] == progress["rows_done"]
    while True:  # the rest, chunk by chunk, each in its own transaction
        with session_scope() as session:
            if not run.chunk(session):
                break
    progress = client.get(url + "/progress").json()
    assert progress["status"] == "done" and progress["rows_done"] == rows + 1
    assert progress["counts"]["accepted"] == rows and progress["counts"]["duplicates"] == 1
    assert progress["percent"] == 100
    with session_scope() as session:
        assert len(session.exec(select(Subscriber)).all()) == rows
        assert session.get(ImportJob, job_id).status == JobStatus.done


def test_a_second_worker_on_the_same_import_stops_without_doing_anything(client, run_jobs):
    ids = make_topics()
    job_id = _stored_job(ids["food"], "email\na@example.org\nb@example.org\n")
    first, second = importer.ImportRun(job_id), importer.ImportRun(job_id)
    while True:  # the first worker does it all (a chunk may end early: CHUNK_SECONDS)
        with session_scope() as session:
            if not first.chunk(session):
                break
    with session_scope() as session:
        assert second.chunk(session) is False  # nothing left: it does nothing
    run_jobs()
    with session_scope() as session:
        assert len(session.exec(select(Subscriber)).all()) == 2


def _people_as_imported(prefix: str, since: tuple[int, int], smtp) -> dict[str, dict]:
    """What the import left for each of a prefix's people: statuses, their ledger events
    (without the random parts) and the mails they received (the link made neutral)."""
    import re

    from app.consent.models import ConsentEvent
    from app.mailing.models import TransactionalEmail

    left: dict[str, dict] = {}
    with session_scope() as session:
        for subscriber in session.exec(
            select(Subscriber).where(col(Subscriber.email).startswith(prefix + "-"))
        ).all():
            events = session.exec(
                select(ConsentEvent)
                .where(
                    ConsentEvent.subscriber_key == subscriber.key,
                    col(ConsentEvent.id) > since[0],
                )
                .order_by(col(ConsentEvent.id))
            ).all()
            kinds = session.exec(
                select(TransactionalEmail.kind).where(
                    TransactionalEmail.to_address == subscriber.email,
                    col(TransactionalEmail.id) > since[1],
                )
            ).all()
            name = subscriber.email.removeprefix(prefix + "-").removesuffix("@example.org")
            left[name] = {
                "email": subscriber.email,
                "first_name": subscriber.first_name,
                "events": [
                    (e.scope, e.action, e.topic_id, e.member_id, e.source, e.consent_text_id)
                    + (e.actor_account_id,)
                    for e in events
                ],
                "links": len({e.token_digest for e in events}),
                "kinds": kinds,
                "mails": [
                    (m.message["Subject"], re.sub(r"/confirm/[^\s\"<]+", "/confirm/T", m.text()))
                    for m in smtp.messages
                    if m.message["To"] == subscriber.email
                ],
            }
    for person in left.values():
        person["statuses"] = statuses(person.pop("email"))
    return left


def _last_ids() -> tuple[int, int]:
    from sqlalchemy import func

    from app.consent.models import ConsentEvent
    from app.mailing.models import TransactionalEmail

    with session_scope() as session:
        return (
            session.exec(select(func.max(ConsentEvent.id))).one() or 0,
            session.exec(select(func.max(TransactionalEmail.id))).one() or 0,
        )


def test_a_piece_imported_in_bulk_leaves_what_one_person_at_a_time_leaves(client, smtp, run_jobs):
    """The import asks a piece of rows at once; the same rows asked one by one through
    `request_subscription` give the same statuses, ledger events (one link each) and
    re-permission mails."""
    from app.consent.models import ConsentSource
    from app.subscribers.models import Topic
    from app.subscribers.signup import Signup, request_subscription

    ids = make_topics()
    for prefix in ("bulk", "single"):
        reader(client, smtp, run_jobs, f"{prefix}-active@example.org", ["food"])
        with session_scope() as session:
            food = session.get(Topic, ids["food"])
            request_subscription(
                session,
                signup=Signup(
                    email=f"{prefix}-pending@example.org", topics=[food], source=ConsentSource.form
                ),
            )
            suppress(session, f"{prefix}-bounced@example.org", "hard-bounce")
    run_jobs()  # every job of the setup done, so only the import's rows come after
    smtp.clear()
    since = _last_ids()
    rows = [("active", ""), ("pending", "Pia"), ("new", "Ana <&>"), ("bounced", ""), ("two", "")]
    with session_scope() as session:
        topics = [session.get(Topic, ids["food"]), session.get(Topic, ids["housing"])]
        report = importer.import_csv(
            session,
            content="email,first_name\n"
            + "".join(f"bulk-{name}@example.org,{first}\n" for name, first in rows),
            topics=topics,
        )
        for name, first in rows:
            request_subscription(
                session,
                signup=Signup(
                    email=f"single-{name}@example.org",
                    topics=topics,
                    source=ConsentSource.import_,
                    first_name=first or None,
                ),
            )
    assert report.counts["accepted"] == 4 and report.counts["bounced"] == 1
    run_jobs()
    bulk = _people_as_imported("bulk", since, smtp)
    single = _people_as_imported("single", since, smtp)
    assert bulk == single
    assert bulk["new"]["statuses"] == {"food": ("pending", None), "housing": ("pending", None)}
    assert bulk["active"]["statuses"] == {"food": ("active", None), "housing": ("pending", None)}
    assert bulk["new"]["kinds"] == ["repermission"] and len(bulk["new"]["mails"]) == 1
    assert len(bulk["active"]["events"]) == 1 and bulk["new"]["links"] == 1
    assert "Hello Ana <&>," in bulk["new"]["mails"][0][1]
    assert "bounced" not in bulk  # never asked, so never made a subscriber


def test_an_import_takes_a_few_statements_per_piece_not_per_row(client):
    """Rows are checked, looked up and written together: a few statements per piece of
    PIECE rows, whatever it holds."""
    from sqlalchemy import event

    from app.db import get_engine

    ids = make_topics()
    rows = importer.PIECE * 2
    content = "email\n" + "".join(f"p{n}@example.org\n" for n in range(rows))
    job_id = _stored_job(ids["food"], content)
    statements: list[str] = []

    here = threading.get_ident()  # not the statements of a worker delivering the mail

    def count(_conn, _cursor, statement, *_args: object) -> None:
        if threading.get_ident() == here:
            statements.append(statement.split("(")[0][:40])

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        run = importer.ImportRun(job_id)
        while True:
            with session_scope() as session:
                if not run.chunk(session):
                    break
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    # About twenty per piece, on PostgreSQL and SQLite alike (14.6 per row before).
    assert len(statements) / rows < 0.2, Counter(statements).most_common()
    with session_scope() as session:
        assert len(session.exec(select(Subscriber)).all()) == rows
