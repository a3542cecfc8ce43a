"""A login request runs the same statements and enqueues the same job whether or not an
account has the address (issue 14, finding 8); the link reaches accounts only."""

from __future__ import annotations

from sqlmodel import select

from app.db import session_scope
from app.members.models import Account
from tests.auth.test_login import request_link
from tests.members.factories import csrf, make_account, make_member
from tests.subscribers.helpers import confirm_from_mail, make_topics
from tests.subscribers.test_same_answer import forget_rate_limits, observing


def test_login_runs_the_same_statements_for_every_address(client, smtp, run_jobs, worker):
    make_topics()
    member = make_member("riverside-food")
    make_account("owner@example.org", member=member)
    make_account("admin@example.org")
    make_account("left@example.org", member=member)
    with session_scope() as session:
        left = session.exec(select(Account).where(Account.email == "left@example.org")).one()
        left.active = False
    client.post("/api/v1/subscribe", json={"email": "reader@example.org", "topics": ["food"]})
    confirm_from_mail(client, smtp, "reader@example.org", run_jobs)
    request_link(client, "warm-up@example.org")
    run_jobs()
    smtp.clear()

    seen = {}
    for email in (
        "nobody@example.org",
        "owner@example.org",
        "admin@example.org",
        "left@example.org",
        "reader@example.org",
    ):
        forget_rate_limits()
        token = csrf(client)
        with observing(worker) as observed:
            response = client.post("/login", data={"email": email, "next": "", "csrf_token": token})
        body = response.text.split("<main", 1)[1].split("</main>", 1)[0].replace(email, "ADDRESS")
        seen[email] = (response.status_code, body, observed)
    nobody = seen["nobody@example.org"]
    assert nobody[2].jobs == [("transactional", "process_intake")]
    for email, (status, body, observed) in seen.items():
        assert (status, body) == nobody[:2], email
        assert observed.statements == nobody[2].statements, email
        assert observed.jobs == nobody[2].jobs, email

    run_jobs()
    assert smtp.wait_for("owner@example.org")[0].message["Subject"] == (
        "Your Co-op Data Club login link"
    )
    smtp.wait_for("admin@example.org")
    assert smtp.to("nobody@example.org") == []
    assert smtp.to("left@example.org") == []
    assert smtp.to("reader@example.org") == []
