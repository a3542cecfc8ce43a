"""The restore drill of docs/deploy.md: after real activity (signups, confirmations, a
withdrawal, the log sequenced), pg_dump the database, restore it into a fresh one with
the secrets kept apart, and the Club there passes `coopclub consent verify`, still
verifies a receipt downloaded before the backup (over HTTP and offline), and its log
keeps growing from where it was."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from app.consent import log as consent_log
from app.consent.models import ConsentEvent
from app.db import session_scope
from app.migrations import grant_app_role
from app.subscribers.service import unsubscribe_token
from tests import processes
from tests.conftest import APP_ROLE, OWNER_DATABASE_URL, TEST_DATABASE_URL
from tests.smtp_sink import free_port
from tests.subscribers.helpers import confirm_from_mail, make_topics
from tests.subscribers.test_signup import link_in_page

pytestmark = pytest.mark.postgres


def libpq(url: str, **parts: str) -> str:
    """The URL as pg_dump and psycopg take it, with `parts` changed (e.g. database)."""
    return make_url(url).set(drivername="postgresql", **parts).render_as_string(hide_password=False)


def coopclub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*processes.COOPCLUB, *args],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def some_activity(client, smtp, run_jobs) -> dict:
    """Three people confirm, one never does, one withdraws; returns a receipt."""
    make_topics()
    pages = {}
    for email in ("ana@example.org", "ben@example.org", "cy@example.org"):
        client.post("/api/v1/subscribe", json={"email": email, "topics": ["food", "housing"]})
        pages[email] = confirm_from_mail(client, smtp, email, run_jobs)
    client.post("/api/v1/subscribe", json={"email": "dee@example.org", "topics": ["food"]})
    run_jobs()  # the confirmations' sequencing jobs
    receipt = client.get(link_in_page(pages["ana@example.org"].text, "receipts")).json()
    from app.subscribers.models import Subscriber

    with session_scope() as session:
        ben = session.exec(select(Subscriber).where(Subscriber.email == "ben@example.org")).one()
        token = unsubscribe_token(ben, None)
    client.cookies.clear()
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    while True:  # what the workers' sequencer does
        with session_scope() as session:
            if not consent_log.integrate(session, wait=True).more:
                break
    return receipt


def test_a_restored_backup_verifies_and_an_old_receipt_still_does(client, smtp, run_jobs, tmp_path):
    receipt = some_activity(client, smtp, run_jobs)
    with session_scope() as session:
        events = session.exec(select(func.count()).select_from(ConsentEvent)).one()
    assert events == 3 * 4 + 1 + 2  # 3 x (2 requested, 2 confirmed), 1 pending, 2 withdrawn

    # Backup: the database, and apart from it the secrets (here the var/ files).
    dump = tmp_path / "coopclub.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", libpq(OWNER_DATABASE_URL)], check=True
    )
    secrets = tmp_path / "restored-var"
    secrets.mkdir()
    var = os.environ["COOPCLUB_VAR_DIR"]
    for name in ("consent_log_key", "suppression_pepper"):
        shutil.copy2(os.path.join(var, name), secrets / name)

    # Restore into a fresh database, as docs/deploy.md says.
    restored = make_url(OWNER_DATABASE_URL).database + "_restored"
    with psycopg.connect(libpq(OWNER_DATABASE_URL, database="postgres"), autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{restored}"')
    server = None
    try:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                f"--dbname={libpq(OWNER_DATABASE_URL, database=restored)}",
                str(dump),
            ],
            check=True,
        )
        grant_app_role(
            APP_ROLE,
            url=make_url(OWNER_DATABASE_URL)
            .set(database=restored)
            .render_as_string(hide_password=False),
        )
        env = {
            "COOPCLUB_DATABASE_URL": make_url(TEST_DATABASE_URL)
            .set(database=restored)
            .render_as_string(hide_password=False),
            "COOPCLUB_VAR_DIR": str(secrets),
            "COOPCLUB_REDIS_URL": "",  # the restored Club runs its own jobs, apart from this run's
        }
        verified = coopclub("consent", "verify", env=env)
        assert verified.returncode == 0, verified.stderr
        assert f"consent ledger OK: {events} events in the log" in verified.stdout

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = processes.serve(port, **env)
        verdict = httpx.post(f"{url}/api/v1/receipts/verify", json=receipt).json()
        assert verdict["genuine"] is True, verdict
        key = tmp_path / "log.key"
        key.write_text(httpx.get(f"{url}/consent-log/key").text)
        receipt_file = tmp_path / "receipt.json"
        receipt_file.write_text(json.dumps(receipt))
        offline = coopclub(
            "consent", "verify-receipt", str(receipt_file), "--key", str(key), env=env
        )
        assert offline.returncode == 0 and "receipt verified" in offline.stdout, offline.stderr

        # Life goes on after the restore: a new signup, sequenced, and the log still checks.
        answer = httpx.post(
            f"{url}/api/v1/subscribe", json={"email": "eve@example.org", "topics": ["food"]}
        )
        assert answer.status_code == 202
        assert coopclub("consent", "sequence", env=env).returncode == 0
        again = coopclub("consent", "verify", env=env)
        assert again.returncode == 0, again.stderr
        assert f"consent ledger OK: {events + 1} events in the log" in again.stdout
    finally:
        if server is not None:
            processes.stop(server)
        with psycopg.connect(libpq(OWNER_DATABASE_URL, database="postgres"), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
