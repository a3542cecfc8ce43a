"""The sweep never holds a transaction while it waits for another server: what it
changed is committed before it probes a mail server that does not answer (on SQLite
an open transaction would hold the only write lock for the whole SMTP timeout)."""

import socket
import threading
from datetime import timedelta

from app import jobs
from app.config import get_settings
from app.db import session_scope, utcnow
from app.newsletters.models import Issue, IssueStatus
from app.sending import lifecycle
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people


class SilentServer:
    """Accepts connections and never says a word, until released."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connected, self.released = threading.Event(), threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.sock.accept()
        self.connected.set()
        self.released.wait(60)
        connection.close()
        self.sock.close()


def test_the_sweep_commits_before_it_waits_for_the_mail_server(run_jobs, monkeypatch):
    topic = make_topic("food")
    paused = schedule_soon(make_issue(make_newsletter("commons", topics=[topic])))
    people.start_now(paused)
    run_jobs()
    with session_scope() as session:
        issue = session.get(Issue, paused.id)
        issue.status, issue.sent_at = IssueStatus.sending, None
        lifecycle.pause(session, issue, by="smtp", reason="the server was down")
    due = schedule_soon(make_issue(make_newsletter("letters", topics=[topic]), subject="Due"))
    with session_scope() as session:
        session.get(Issue, due.id).scheduled_at = utcnow() - timedelta(minutes=1)
    silent = SilentServer()
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://127.0.0.1:{silent.port}")
    sweep = threading.Thread(target=jobs.run_sweeps)
    sweep.start()
    try:
        assert silent.connected.wait(60), "the sweep never probed the mail server"
        # The sweep now waits for the server; what it did before is already visible.
        with session_scope() as session:
            assert session.get(Issue, due.id).status != IssueStatus.scheduled
    finally:
        silent.released.set()
        sweep.join(60)
    with session_scope() as session:
        assert session.get(Issue, paused.id).status == IssueStatus.paused  # still down
