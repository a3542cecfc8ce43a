"""Regenerate the README's screenshots: `make screenshots` (or `python -m tests.e2e.screenshots`).

Builds a throwaway Club (its own SQLite file and outbox in a temporary directory) with
the demo seed, serves it on a loopback port, and photographs the main pages with
Debian's Chromium into docs/screenshots/.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.e2e.browser import CHROMIUM, DESKTOP, PHONE, launch

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# (file name, who is logged in, path, viewport[, browser locale][, options]): options may
# name a button to click first ({"click": ...}) or ask for the whole page ({"full_page": True}).
ADMIN = "admin@coopdata.example.org"
OWNER = "owner@riverside-food.example.org"

# Signups written down at a market stall: two new people, one already subscribed, one
# address mistyped, one written twice.
IMPORT_CSV = """email,first_name
marta.lopez@example.org,Marta
kwame@example.org,Kwame
priya@example.org,Priya
jo.at.example.org,Jo
kwame@example.org,
"""


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="coopclub-screenshots-"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    os.environ.update(
        COOPCLUB_ENV="development",
        COOPCLUB_VAR_DIR=str(tmp / "var"),
        COOPCLUB_DATABASE_URL=f"sqlite:///{tmp / 'club.sqlite3'}",
        COOPCLUB_BASE_URL=base,
        COOPCLUB_SECRET_KEYS="screenshots-only-0123456789abcdef",
    )
    for name in ("COOPCLUB_REDIS_URL", "COOPCLUB_SMTP_URL"):
        os.environ.pop(name, None)

    # Only now may the app be imported: it reads the settings above.
    import uvicorn
    from playwright.sync_api import sync_playwright
    from sqlmodel import select

    import workers  # noqa: F401  (declares the actors: the demo's booking queues mail)
    from app import demo, jobs
    from app.auth.service import issue_login_link
    from app.db import session_scope
    from app.main import create_app
    from app.marketplace.models import Booking
    from app.members.models import Account
    from app.migrations import upgrade
    from app.newsletters.models import Issue, IssueStatus
    from app.subscribers.importer import start_import
    from app.subscribers.models import Subscriber, Topic
    from app.subscribers.service import preferences_url

    upgrade()
    with session_scope() as session:
        demo.seed(session)
    with session_scope() as session:
        draft = session.exec(select(Issue).where(Issue.status == IssueStatus.draft)).first()
        draft_id = draft.id if draft else None
        booking = session.exec(select(Booking).order_by(Booking.id)).first()
        booking_id = booking.id if booking else None
        priya = session.exec(
            select(Subscriber).where(Subscriber.email == "priya@example.org")
        ).one()
        preferences = preferences_url(priya).removeprefix(base)
        priya_id = priya.id
        scheduled = session.exec(select(Issue).where(Issue.status == IssueStatus.scheduled)).first()
        scheduled_id = scheduled.id if scheduled else None
        admin_id = session.exec(select(Account).where(Account.email == ADMIN)).one().id
        topics = list(session.exec(select(Topic).where(Topic.slug == "food-coops")).all())
        # A list brought from another tool: its import runs when this session commits,
        # and its page then shows what was added and what was skipped, and why.
        imported = start_import(
            session,
            content=IMPORT_CSV,
            filename="market-stall-signups.csv",
            topics=topics,
            account_id=admin_id,
        )
        import_id = imported.id

    def login_link(email: str) -> str:
        with session_scope() as session:
            account = session.exec(select(Account).where(Account.email == email)).one()
            return issue_login_link(session, account=account)

    # The app's own worker threads run the jobs the seed queued (the first issue's send,
    # the import), as `make demo` does; the pages are photographed once they are done.
    app = create_app(run_jobs_in_process=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    for queue in list(jobs.broker.get_declared_queues()):
        jobs.broker.join(queue, timeout=60_000)
    with session_scope() as session:
        sent = session.exec(select(Issue).where(Issue.status == IssueStatus.sent)).first()
        sent_id = sent.id if sent else None

    start = f"/admin/issues/{scheduled_id}/sending"
    shots = [
        ("home", None, "/", DESKTOP),
        ("subscribe", None, "/subscribe", DESKTOP),
        ("subscribe-phone", None, "/subscribe", PHONE),
        ("preferences", None, preferences, DESKTOP),
        ("member-dashboard", OWNER, "/member", DESKTOP),
        ("member-dashboard-phone", OWNER, "/member", PHONE),
        ("member-slots", OWNER, "/member/slots", DESKTOP),
        ("member-slots-phone", OWNER, "/member/slots", PHONE),
        ("member-sharing-phone", OWNER, "/member/sharing", PHONE),
        ("privacy", None, "/privacy", DESKTOP),
        ("directory", None, "/members?country=CA", DESKTOP),
        ("directory-phone", None, "/members", PHONE),
        ("directory-member", None, "/members/riverside-food-coop", DESKTOP),
        ("directory-embed", None, "/members/embed?region=CA-ON", DESKTOP),
        ("member-profile", OWNER, "/member/profile", DESKTOP),
        ("member-booking", OWNER, f"/member/bookings/{booking_id}", DESKTOP),
        ("admin-overview", ADMIN, "/admin", DESKTOP),
        ("admin-marketplace", ADMIN, "/admin/marketplace", DESKTOP),
        ("admin-overview-phone", ADMIN, "/admin", PHONE),
        ("issue-editor", ADMIN, f"/admin/issues/{draft_id}", DESKTOP),
        ("admin-topics", ADMIN, "/admin/topics", DESKTOP),
        ("admin-subscribers", ADMIN, "/admin/subscribers?q=p", DESKTOP),
        ("admin-subscriber", ADMIN, f"/admin/subscribers/{priya_id}", DESKTOP),
        ("admin-suppressions", ADMIN, "/admin/suppressions", DESKTOP),
        ("archive", None, "/archive/commons/1", DESKTOP),
        ("issue-report", ADMIN, f"/admin/issues/{sent_id}/report", DESKTOP, {"full_page": True}),
        ("issue-report-phone", ADMIN, f"/admin/issues/{sent_id}/report", PHONE),
        ("admin-import", ADMIN, f"/admin/imports/{import_id}", DESKTOP),
        # The question asked before an issue goes out, with the number of people it goes to.
        ("confirm-send", ADMIN, start, DESKTOP, {"click": "Start sending now"}),
        ("confirm-send-phone", ADMIN, start, PHONE, {"click": "Start sending now"}),
        # The same pages as a reader whose browser asks for French or Spanish sees them.
        ("subscribe-fr", None, "/subscribe", DESKTOP, "fr-CA"),
        ("preferences-fr", None, preferences, DESKTOP, "fr-CA"),
        ("subscribe-es-phone", None, "/subscribe", PHONE, "es"),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            contexts = {}
            for name, who, path, viewport, *extra in shots:
                locale = next((e for e in extra if isinstance(e, str)), "en-US")
                options = next((e for e in extra if isinstance(e, dict)), {})
                click = options.get("click")
                key = (who, viewport["width"], locale)
                if key not in contexts:
                    contexts[key] = browser.new_context(
                        base_url=base, viewport=viewport, locale=locale
                    )
                    if who:
                        page = contexts[key].new_page()
                        page.goto(login_link(who))
                        page.get_by_role("button", name="Log in").click()
                        page.wait_for_load_state("load")
                        page.close()
                page = contexts[key].new_page()
                page.goto(path)
                page.wait_for_load_state("networkidle")
                if click:
                    page.get_by_role("button", name=click).click()
                    page.get_by_role("dialog").wait_for(state="visible")
                page.screenshot(
                    path=str(OUT / f"{name}.png"), full_page=options.get("full_page", False)
                )
                page.close()
                print(f"docs/screenshots/{name}.png")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
