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

# (file name, who is logged in, path or a callable giving it, viewport[, browser locale])
ADMIN = "admin@coopdata.example.org"
OWNER = "owner@riverside-food.example.org"


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
    from app import demo
    from app.auth.service import issue_login_link
    from app.db import session_scope
    from app.main import create_app
    from app.marketplace.models import Booking
    from app.members.models import Account
    from app.migrations import upgrade
    from app.newsletters.models import Issue, IssueStatus
    from app.subscribers.models import Subscriber
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

    def login_link(email: str) -> str:
        with session_scope() as session:
            account = session.exec(select(Account).where(Account.email == email)).one()
            return issue_login_link(session, account=account)

    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

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
            for name, who, path, viewport, *language in shots:
                locale = language[0] if language else "en-US"
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
                page.screenshot(path=str(OUT / f"{name}.png"))
                page.close()
                print(f"docs/screenshots/{name}.png")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
