"""Imports as jobs: chunks commit one by one with the report so far; nobody who withdrew,
was erased, bounced or complained is asked again (issue 14, finding 6)."""

from sqlmodel import select

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
