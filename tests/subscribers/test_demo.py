"""The demo seed builds topics and confirmed subscribers whose ledger verifies, once."""

from click.testing import CliRunner
from sqlmodel import select

from app.cli import cli
from app.consent.models import ConsentEvent
from app.db import session_scope


def test_demo_seed_is_idempotent_and_its_ledger_verifies(client, run_jobs):
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    with session_scope() as session:
        events = len(session.exec(select(ConsentEvent)).all())
    assert runner.invoke(cli, ["demo"]).exit_code == 0
    with session_scope() as session:
        assert len(session.exec(select(ConsentEvent)).all()) == events > 0
    result = runner.invoke(cli, ["consent", "verify"])
    assert result.exit_code == 0, result.output
    topics = {t["slug"]: t["owner"] for t in client.get("/api/v1/topics").json()}
    assert topics["food-coops"] is None
    assert topics["riverside-kitchen"] == "riverside-food-coop"
    assert "northwind-members" not in topics  # unlisted
    run_jobs()  # the demo's mail (a staff invitation) is delivered now, not into the next test
