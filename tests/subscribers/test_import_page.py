"""The admin import page: the upload starts a job; its page follows the job and ends
with a report by line; a file that cannot be imported stores nothing."""

from sqlmodel import select

from app.db import session_scope
from app.members.models import Role
from app.subscribers.models import ImportJob, Subscriber, Subscription, SubscriptionStatus
from tests.members.factories import csrf_for_logged_in, log_in, make_account, make_member
from tests.newsletters.factories import make_topic

CSV = "email,first_name\nana@example.org,Ana\nnot-an-address,\nana@example.org,\nbo@example.org,\n"


def _upload(client, content: str, topics, **kwargs):
    return client.post(
        "/admin/import",
        data={"csrf_token": csrf_for_logged_in(client), "topics": [str(t.id) for t in topics]},
        files={"file": ("people.csv", content.encode(), "text/csv")},
        **kwargs,
    )


def test_an_admin_imports_and_reads_the_report(client, smtp, run_jobs):
    topic = make_topic("food")
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    response = _upload(client, CSV, [topic], follow_redirects=False)
    assert response.status_code == 303
    progress_url = response.headers["location"]
    assert progress_url.startswith("/admin/imports/")
    run_jobs()
    page = client.get(progress_url)
    assert page.status_code == 200, page.text
    assert "Imported" in page.text and "4</span> of 4 rows done" in page.text
    assert 'data-field="counts.accepted">2</strong> accepted' in page.text
    assert "Duplicate or already subscribed (lines 4)" in page.text
    assert "<td>3</td>" in page.text  # the invalid line, by number
    progress = client.get(progress_url + "/progress").json()
    assert progress["status"] == "done" and progress["counts"]["accepted"] == 2
    with session_scope() as session:
        statuses = {s.status for s in session.exec(select(Subscription)).all()}
    assert statuses == {SubscriptionStatus.pending}
    assert len(smtp.wait_for("ana@example.org")) == 1
    assert len(smtp.wait_for("bo@example.org")) == 1
    assert "people.csv" in client.get("/admin/import").text  # listed under recent imports


def test_a_file_without_an_email_column_imports_nothing(client, smtp, run_jobs):
    topic = make_topic("food")
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    response = _upload(client, "address\nana@example.org\n", [topic])
    assert response.status_code == 422 and "email" in response.text
    response = _upload(client, CSV, [])
    assert response.status_code == 422 and "at least one topic" in response.text
    run_jobs()
    with session_scope() as session:
        assert session.exec(select(Subscriber)).all() == []
        assert session.exec(select(ImportJob)).all() == []
    assert smtp.messages == []


def test_only_admins_may_import(client):
    topic = make_topic("food")
    log_in(client, make_account("owner@riverside.example.org", member=make_member("riverside")))
    assert client.get("/admin/import").status_code == 403
    assert _upload(client, CSV, [topic]).status_code == 403
