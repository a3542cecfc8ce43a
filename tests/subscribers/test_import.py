"""CSV import: rows come in pending, get only the re-permission mail, never a newsletter."""

from sqlalchemy import select as sa_select
from sqlmodel import select

from app.db import session_scope
from app.subscribers.importer import CsvImportError, import_csv
from app.subscribers.models import Topic
from app.subscribers.service import active_subscriber_ids_query
from tests.subscribers.helpers import confirm_from_mail, make_topics, statuses

CSV = """Email,First_Name
ana@example.org,Ana
not-an-address,Bob
ANA@example.org,Ana again
,Nobody
ben@example.org,
"""


def test_import_reports_lines_and_mails_only_the_repermission(client, smtp, run_jobs):
    ids = make_topics()
    with session_scope() as session:
        food = session.get(Topic, ids["food"])
        report = import_csv(session, content=CSV, topics=[food])
    assert report.accepted == [2, 6]
    assert report.duplicates == [4]
    assert [line for line, _ in report.invalid] == [3, 5]
    assert statuses("ana@example.org") == {"food": ("pending", None)}
    assert statuses("ben@example.org") == {"food": ("pending", None)}
    with session_scope() as session:
        audience = session.execute(active_subscriber_ids_query([ids["food"]])).all()
    assert audience == []  # nothing imported is in any newsletter audience

    run_jobs()
    (mail,) = smtp.wait_for("ana@example.org")
    assert mail.message["Subject"] == "Please confirm you still want our newsletters"
    assert "Hello Ana" in mail.text()
    assert len(smtp.messages) == 2  # one re-permission mail each, nothing else

    confirm_from_mail(client, smtp, "ana@example.org", run_jobs)
    assert statuses("ana@example.org") == {"food": ("active", None)}
    with session_scope() as session:
        audience = session.execute(active_subscriber_ids_query([ids["food"]])).scalars().all()
    assert len(audience) == 1


def test_import_needs_an_email_column_and_a_topic():
    import pytest

    make_topics()
    with session_scope() as session:
        food = session.exec(select(Topic).where(Topic.slug == "food")).one()
        with pytest.raises(CsvImportError, match="email"):
            import_csv(session, content="name\nx\n", topics=[food])
        with pytest.raises(CsvImportError, match="topic"):
            import_csv(session, content="email\na@example.org\n", topics=[])


def test_audience_leaves_out_suppressed_addresses(client, smtp, run_jobs):
    ids = make_topics()
    for email in ("one@example.org", "two@example.org"):
        client.post("/api/v1/subscribe", json={"email": email, "topics": ["food", "housing"]})
        confirm_from_mail(client, smtp, email, run_jobs)
    from app.subscribers.service import is_suppressed, suppress

    with session_scope() as session:
        suppress(session, "Two@Example.org", "hard bounce")
        assert is_suppressed(session, "two@example.org")
        rows = session.execute(active_subscriber_ids_query([ids["food"], ids["housing"]])).scalars()
        audience = list(rows)
        from app.subscribers.models import Subscriber

        emails = session.execute(
            sa_select(Subscriber.email).where(Subscriber.id.in_(audience))
        ).scalars()
        assert list(emails) == ["one@example.org"]


def test_import_command_prints_the_report(tmp_path, smtp, run_jobs):
    from click.testing import CliRunner

    from app.cli import cli

    make_topics()
    path = tmp_path / "list.csv"
    path.write_text(CSV)
    result = CliRunner().invoke(cli, ["subscribers", "import", str(path), "--topic", "food"])
    assert result.exit_code == 0, result.output
    assert "accepted: 2" in result.output and "line 3:" in result.output
    bad = CliRunner().invoke(cli, ["subscribers", "import", str(path), "--topic", "nope"])
    assert bad.exit_code != 0 and "unknown topic: nope" in bad.output
    run_jobs()
    assert len(smtp.wait_for("ben@example.org")) == 1


def test_the_report_names_the_file_line_where_each_row_starts():
    """A quoted field may hold line breaks: the rows after it are reported by the line
    they start on in the file, not by their count of records."""
    make_topics()
    content = (
        "email,first_name\n"
        'two@example.org,"Two\nlines"\n'  # lines 2-3: refused, a name with a line break
        "four@example.org,Bo\n"
        "\n"  # line 5: blank
        "six@example.org,\n"
        'seven@example.org,"Seven\n\nmore"\n'  # lines 7-9
        "ten@example.org,Ten\n"
        "ten@example.org,again\n"
    )
    with session_scope() as session:
        food = session.exec(select(Topic).where(Topic.slug == "food")).one()
        report = import_csv(session, content=content, topics=[food])
    assert [line for line, _ in report.invalid] == [2, 7]
    assert report.accepted == [4, 6, 10]
    assert report.duplicates == [11]
