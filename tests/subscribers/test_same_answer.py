"""Same answer, same time (issue 14, finding 8), proved without a clock: for every state
an address can be in, a signup request (the JSON API, the hosted form, the embedded
form) runs the same database statements, in kind and number, enqueues the same job and
gives the same answer. What differs (which mail, which ledger rows) happens in the job,
and the job's outcome is checked too. Login: tests/auth/test_login_same_answer.py."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import dramatiq
import pytest
from sqlalchemy import event
from sqlmodel import select

from app import jobs, ratelimit
from app.config import get_settings
from app.db import get_engine, session_scope
from app.sending import complaints
from app.subscribers import preferences
from app.subscribers.admin_people import ADMIN_SUPPRESSED
from app.subscribers.models import Subscriber
from app.subscribers.service import forget_open_topics, suppress
from tests.members.factories import make_account
from tests.subscribers.helpers import (
    confirm_from_mail,
    form_token,
    hosted_form,
    make_topics,
)


@dataclass
class Observed:
    statements: list[str] = field(default_factory=list)
    jobs: list[tuple[str, str]] = field(default_factory=list)


class _JobRecorder(dramatiq.Middleware):
    def __init__(self) -> None:
        self.into: Observed | None = None

    def before_enqueue(self, broker, message, delay):  # noqa: ANN001, ANN201
        if self.into is not None:
            self.into.jobs.append((message.queue_name, message.actor_name))


_SHAPE = re.compile(r"\s+")


@contextlib.contextmanager
def observing(worker) -> Iterator[Observed]:
    """Every statement the app's engine runs in this block and every job it enqueues,
    with the worker threads paused (their own statements are not the request's)."""
    observed = Observed()
    recorder = _JobRecorder()
    recorder.into = observed
    worker.pause()

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        observed.statements.append(_SHAPE.sub(" ", statement).strip())

    jobs.broker.middleware.append(recorder)
    event.listen(get_engine(), "before_cursor_execute", record)
    try:
        yield observed
    finally:
        event.remove(get_engine(), "before_cursor_execute", record)
        jobs.broker.middleware.remove(recorder)
        worker.resume()


def forget_rate_limits() -> None:
    """Each observed request starts alike: no rate-limit counts, no topics remembered."""
    forget_open_topics()
    ratelimit.reset_local()
    client = jobs.redis_client()
    if client is not None:
        for key in client.scan_iter(match=f"{get_settings().redis_namespace}:app:rl:*"):
            client.delete(key)


def _active(client, smtp, run_jobs, email: str) -> None:
    client.post("/api/v1/subscribe", json={"email": email, "topics": ["food"]})
    confirm_from_mail(client, smtp, email, run_jobs)


def _subscriber(session, email: str) -> Subscriber:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).one()


def _every_state(client, smtp, run_jobs) -> dict[str, str]:
    """state -> an address in that state."""
    states = {
        "new": "new@example.org",
        "pending": "pending@example.org",
        "active": "active@example.org",
        "unsubscribed": "unsubscribed@example.org",
        "erased": "erased@example.org",
        "suppressed: hard bounce": "bounced@example.org",
        "suppressed: complaint": "complained@example.org",
        "suppressed: by an admin": "stopped@example.org",
        "suppressed, never subscribed": "stranger@example.org",
        "account, not subscribed": "owner@example.org",
        "account, active subscriber": "owner-reader@example.org",
    }
    client.post("/api/v1/subscribe", json={"email": states["pending"], "topics": ["food"]})
    for state in (
        "active",
        "unsubscribed",
        "erased",
        "suppressed: hard bounce",
        "suppressed: complaint",
        "suppressed: by an admin",
        "account, active subscriber",
    ):
        _active(client, smtp, run_jobs, states[state])
    make_account(states["account, not subscribed"])
    make_account(states["account, active subscriber"])
    with session_scope() as session:
        preferences.unsubscribe(
            session,
            subscriber=_subscriber(session, states["unsubscribed"]),
            topic_ids=None,
            token=None,
        )
        preferences.erase(session, subscriber=_subscriber(session, states["erased"]))
        complaints.suppress_subscriber(
            session, _subscriber(session, states["suppressed: hard bounce"]), "hard-bounce"
        )
        complained = _subscriber(session, states["suppressed: complaint"])
        preferences.unsubscribe(session, subscriber=complained, topic_ids=None, token=None)
        suppress(session, complained.email, "complaint")
        suppress(session, states["suppressed: by an admin"], ADMIN_SUPPRESSED)
        suppress(session, states["suppressed, never subscribed"], "hard-bounce")
    run_jobs()
    return states


def _api(client, email: str):
    return client.post(
        "/api/v1/subscribe",
        json={"email": email, "topics": ["food", "housing"], "share_with_members": True},
    )


def _hosted(client, email: str):
    return client.post(
        "/subscribe", data=hosted_form(client, email=email, topics=["food", "housing"])
    )


def _embedded(client, email: str):
    return client.post(
        "/subscribe/embed/riverside",
        data={
            "email": email,
            "topics": ["riverside-news"],
            "website": "",
            "form_token": form_token("riverside", ["riverside-news", "food"]),
        },
    )


def _answer(response) -> tuple[int, str]:
    body = response.text
    if "<main" in body:  # the page's CSRF token and nonces differ per request
        body = body.split("<main", 1)[1].split("</main>", 1)[0]
    return response.status_code, body


@pytest.mark.parametrize("ask", [_api, _hosted, _embedded], ids=["api", "hosted", "embedded"])
def test_every_state_runs_the_same_statements_and_enqueues_the_same_job(
    ask, client, smtp, run_jobs, worker
):
    make_topics()
    states = _every_state(client, smtp, run_jobs)
    ask(client, "warm-up@example.org")  # first use makes the consent texts' versions
    run_jobs()
    smtp.clear()
    seen: dict[str, tuple[tuple[int, str], Observed]] = {}
    for state, email in states.items():
        forget_rate_limits()  # each state starts from the same count
        if ask is _hosted:
            hosted_form(client)  # the form page (and its CSRF cookie) before recording
        with observing(worker) as observed:
            response = ask(client, email)
        seen[state] = (_answer(response), observed)
    new_answer, new = seen["new"]
    assert new_answer[0] in (200, 202)
    assert new.jobs == [("transactional", "process_intake")]
    assert any(s.startswith("INSERT INTO intake_request") for s in new.statements)
    for state, (answer, observed) in seen.items():
        assert answer == new_answer, state
        assert observed.statements == new.statements, state
        assert observed.jobs == new.jobs, state

    # The job did what each state calls for (the mail differs; the answers did not).
    run_jobs()
    assert "/confirm/" in smtp.wait_for(states["new"])[0].text()
    assert "/confirm/" in smtp.wait_for(states["erased"])[0].text()
    assert "/confirm/" in smtp.wait_for(states["suppressed: complaint"])[0].text()
    if ask is not _embedded:  # the member's form asks for its own topic: not yet active
        (already,) = smtp.wait_for(states["account, active subscriber"])
        assert "/confirm/" in already.text()  # housing (and sharing) are new to them
    with session_scope() as session:
        from app.intake import IntakeRequest

        assert session.exec(select(IntakeRequest)).all() == []  # every request done


def test_a_resend_request_runs_the_same_statements_for_everyone(client, smtp, run_jobs, worker):
    make_topics()
    states = _every_state(client, smtp, run_jobs)
    smtp.clear()
    seen = {}
    for state, email in states.items():
        forget_rate_limits()
        page = client.get("/subscribe")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        with observing(worker) as observed:
            response = client.post("/confirm/resend", data={"csrf_token": token, "email": email})
        seen[state] = (_answer(response), observed.statements, observed.jobs)
    assert len({(a, tuple(s), tuple(j)) for a, s, j in seen.values()}) == 1
    run_jobs()
    # Only the pending address had anything to confirm again.
    assert "/confirm/" in smtp.wait_for(states["pending"])[0].text()
