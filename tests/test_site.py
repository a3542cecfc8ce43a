"""What every visitor finds: the home page's ways in, a favicon, a privacy page made from
SECURITY.md (and named by consent receipts), and a demo that seeds a fresh database
quietly in the embedded default."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from app.privacy import SECURITY_MD, sections

ROOT = Path(__file__).resolve().parents[1]


def _kept_rows() -> list[str]:
    table = sections(SECURITY_MD.read_text(encoding="utf-8"))["What we keep"]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return [row.split("|")[1].strip() for row in rows[1:]]


def test_home_page_leads_to_subscribing_the_archive_applying_and_privacy(client):
    page = client.get("/").text
    for href in ('href="/subscribe"', 'href="/archive"', 'href="/apply"', 'href="/privacy"'):
        assert href in page
    assert 'rel="icon"' in page


def test_favicon_is_served(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")


def test_privacy_page_says_what_security_md_says_we_keep(client):
    page = client.get("/privacy")
    assert page.status_code == 200
    rows = _kept_rows()
    assert len(rows) >= 4
    text = re.sub(r"<[^>]+>", "", page.text).replace("&#x27;", "'")
    for row in rows:
        plain = re.sub(r"[`*]", "", row)
        assert plain in text, plain
    assert "What we never keep" in page.text and "No IP addresses" in page.text


def test_demo_on_a_fresh_database_is_quiet_and_delivers_its_mail(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPCLUB_")}
    env.update(COOPCLUB_VAR_DIR=str(tmp_path / "var"), COOPCLUB_ENV="development")
    coopclub = [str(Path(sys.executable).parent / "coopclub")]
    for command in (["db", "upgrade"], ["demo"]):
        run = subprocess.run(
            coopclub + command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr and " ERROR " not in run.stderr, run.stderr
    assert run.stdout.strip() == "demo data is in place"
    assert "Warning" not in run.stderr, run.stderr
    assert list((tmp_path / "var" / "outbox").glob("*.eml"))
    # The demo's member co-ops can be found in the directory (a member written by any
    # command, not only the web app, gets its search text).
    with sqlite3.connect(tmp_path / "var" / "coopclub.sqlite3") as db:
        found = db.execute("SELECT slug FROM member WHERE search_text LIKE '%credit%'").fetchall()
        sent = db.execute("SELECT status FROM issue WHERE subject = 'Spring at the co-ops'")
        (status,) = sent.fetchone()
    assert found == [("commons-credit-union",)]
    assert status == "sent"
