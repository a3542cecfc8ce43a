"""Same answer, same time (issue 14): the median answer time of a signup
(`POST /api/v1/subscribe`) for addresses in every state, and of a login request
(`POST /login`) with and without an account, as ratios to the new (or unknown) address's
median measured in the same run. Target: every ratio within 0.9-1.1.

`coopclub serve --workers 2` and `coopclub worker` on PostgreSQL + Redis, as in
bench/signup_load.py. One client sends the requests one at a time (the next once the
worker has done the last one's job and sent its mail), the states taking
turns (request i of every state, each round starting with the next state, then
request i+1), so a change in the machine's load
touches every state alike. Each request names an address of its own (seeded in its
state beforehand), so no address changes state under the measurement, and its own
X-Forwarded-For, so the per-client limits (on for login) never engage.

    .venv/bin/python -m bench.timing [--requests 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import httpx
import psycopg

from bench import common
from bench.common import log
from bench.signup_load import running_server

SIGNUP_STATES = (
    "new",
    "pending",
    "active",
    "unsubscribed",
    "suppressed: hard bounce",
    "suppressed: complaint",
    "suppressed: by an admin",
    "erased",
    "account, not subscribed",
)
LOGIN_STATES = ("unknown", "account", "subscriber without account")


def address(state: str, n: int) -> str:
    return f"{re.sub(r'[^a-z]+', '-', state).strip('-')}-{n}@example.org"


def seed(requests: int) -> None:
    """Every address in its state, through the app's models and services."""
    from sqlmodel import select

    from app.db import session_scope
    from app.members.models import Account, Role
    from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
    from app.subscribers.service import address_hmac, suppress

    status = {
        "pending": SubscriptionStatus.pending,
        "active": SubscriptionStatus.active,
        "unsubscribed": SubscriptionStatus.unsubscribed,
        "suppressed: hard bounce": SubscriptionStatus.active,
        "suppressed: complaint": SubscriptionStatus.unsubscribed,
        "suppressed: by an admin": SubscriptionStatus.active,
        "subscriber without account": SubscriptionStatus.active,
    }
    reasons = {
        "suppressed: hard bounce": "hard-bounce",
        "suppressed: complaint": "complaint",
        "suppressed: by an admin": "suppressed by an admin",
        "erased": "erased on request",
    }
    with session_scope() as session:
        topic = session.exec(select(Topic).where(Topic.slug == "food")).one()
        for state in (*SIGNUP_STATES, *LOGIN_STATES):
            for n in range(requests):
                email = address(state, n)
                if state in status:
                    subscriber = Subscriber(email=email, address_hmac=address_hmac(email))
                    session.add(subscriber)
                    session.flush()
                    session.add(
                        Subscription(
                            subscriber_id=subscriber.id, topic_id=topic.id, status=status[state]
                        )
                    )
                if state in reasons:
                    suppress(session, email, reasons[state])
                if state in ("account, not subscribed", "account"):
                    session.add(Account(email=email, display_name="", role=Role.owner))
            session.flush()


# A request's job, and the mail it queued, still to do.
UNFINISHED = (
    "SELECT (SELECT count(*) FROM intake_request) + (SELECT count(*) FROM"
    " transactional_email WHERE status IN ('queued', 'sending'))"
)


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def measure(port: int, database_url: str, requests: int) -> dict[str, dict[str, float]]:
    base = f"http://127.0.0.1:{port}"
    signup: dict[str, list[float]] = {state: [] for state in SIGNUP_STATES}
    login: dict[str, list[float]] = {state: [] for state in LOGIN_STATES}
    with (
        httpx.Client(base_url=base, timeout=30) as client,
        psycopg.connect(database_url, autocommit=True) as db,
    ):
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, "no CSRF field on /login"
        for n in range(-20, requests):  # 20 rounds of warm-up, not counted
            for kind, states in (("signup", signup), ("login", login)):
                # Each round starts with another state: no state always comes first
                # (after the other endpoint, or when a 5-second memory runs out).
                order = list(enumerate(states))
                order = order[n % len(order) :] + order[: n % len(order)]
                for s, state in order:
                    email = address(state, n) if n >= 0 else f"warm-{kind}-{s}-{-n}@example.org"
                    headers = {"X-Forwarded-For": f"10.{s}.{(n + 20) // 250}.{(n + 20) % 250}"}
                    started = time.perf_counter()
                    if kind == "signup":
                        answer = client.post(
                            "/api/v1/subscribe",
                            json={"email": email, "topics": ["food"]},
                            headers=headers,
                        )
                        ok = answer.status_code == 202
                    else:
                        answer = client.post(
                            "/login",
                            data={"email": email, "next": "", "csrf_token": csrf.group(1)},
                            headers=headers,
                        )
                        ok = answer.status_code == 200
                    elapsed = time.perf_counter() - started
                    if not ok:
                        raise SystemExit(f"{kind} {state}: {answer.status_code} {answer.text}")
                    if n >= 0:
                        states[state].append(elapsed)
                    # The job works after the answer; the next request starts once it is
                    # done, so no request is timed against the previous one's job (as an
                    # attacker spacing requests out would see them).
                    while db.execute(UNFINISHED).fetchone()[0]:  # type: ignore[index]
                        time.sleep(0.002)
    results: dict[str, dict[str, float]] = {}
    for kind, samples, reference in (("signup", signup, "new"), ("login", login, "unknown")):
        base_median = statistics.median(samples[reference])
        results[kind] = {
            state: {
                "median_ms": _median_ms(values),
                "ratio": round(statistics.median(values) / base_median, 3),
            }
            for state, values in samples.items()
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="per state")
    args = parser.parse_args()
    with running_server("timing_states", COOPCLUB_TRUSTED_PROXIES="127.0.0.1") as (port, url):
        seed(args.requests)
        log(f"seeded {args.requests} addresses per state; measuring one request at a time")
        results = measure(port, url, args.requests)
    worst = 0.0
    for kind, states in results.items():
        for state, figures in states.items():
            log(
                f"{kind:6} {state:28} median {figures['median_ms']:7.2f} ms"
                f"  ratio {figures['ratio']:.3f}"
            )
            worst = max(worst, abs(figures["ratio"] - 1))
    within = all(0.9 <= f["ratio"] <= 1.1 for states in results.values() for f in states.values())
    print(
        f"RATIO timing: every state's median / the new address's median within "
        f"{1 - worst:.3f}-{1 + worst:.3f} (target 0.9-1.1: {'met' if within else 'NOT met'})"
    )
    common.write_result(
        "timing",
        {
            "requests_per_state": args.requests,
            "signup": results["signup"],
            "login": results["login"],
            "worst_deviation": round(worst, 3),
            "within_target": within,
            "target": "every median within 0.9-1.1 of the new/unknown address's",
        },
    )


if __name__ == "__main__":
    main()
