"""Admin pages at a million: the overview, a subscriber search (exact address and
prefix) and one person's page, on a database of 1,000,000 subscribers (about 2.4
million subscriptions, two consent events each, a month of history, 1% erased), against
the same pages on a database of 1,000 built the same way, in one run. The ratio is
median(1M) / median(1k) per page (target <= 3).

The overview reads the daily rollup (`topic_day`, app/subscribers/growth.py); the bench
first lets `roll_up` integrate the whole seeded ledger, as the worker does tick by tick,
and reports how long that took. `--explain` prints the plan (EXPLAIN ANALYZE) of every
statement a page ran that took over 20 ms.

Both databases are built with bulk SQL (generate_series), then every page is requested
through the real app (FastAPI's TestClient, logged in as an admin) on PostgreSQL.

    .venv/bin/python -m bench.admin_scale [--large 1000000] [--small 1000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time

import psycopg

from bench import common
from bench.common import log

TOPICS = 12

SEED = [
    """
    INSERT INTO subscriber (key, email, address_hmac, created_at)
    SELECT md5('k' || n), 'reader' || n || '@example.org', md5('a' || n),
           now() - make_interval(secs => (%(count)s - n) * 2592000.0 / %(count)s)
    FROM generate_series(1, %(count)s) AS n
    """,
    """
    INSERT INTO subscription (subscriber_id, topic_id, status, updated_at)
    SELECT DISTINCT ON (s.id, t.topic) s.id, %(first)s + t.topic,
           CASE WHEN mod(s.id * 37 + t.topic, 100) < 5 THEN 'pending'
                WHEN mod(s.id * 41 + t.topic, 100) < 3 THEN 'unsubscribed'
                ELSE 'active' END,
           s.created_at
    FROM subscriber s
    CROSS JOIN LATERAL (VALUES (mod(s.id, %(topics)s)), (mod(s.id * 7 + 3, %(topics)s)),
                               (mod(s.id * 13 + 5, %(topics)s))) AS t(topic)
    WHERE t.topic <> mod(s.id * 13 + 5, %(topics)s) OR mod(s.id, 2) = 0
    """,
    # The ledger: a request for every subscription, a confirmation for every one that
    # was confirmed, a withdrawal for the unsubscribed ones (spread over the month).
    """
    INSERT INTO consent_event (subscriber_key, scope, action, topic_id, source,
                               occurred_at)
    SELECT s.key, 'topic', a.action, x.topic_id, 'form', s.created_at + a.later
    FROM subscription x JOIN subscriber s ON s.id = x.subscriber_id
    CROSS JOIN LATERAL (VALUES ('requested', interval '0'), ('confirmed', interval '5 min'),
                               ('withdrawn', interval '1 day')) AS a(action, later)
    WHERE a.action = 'requested'
       OR (a.action = 'confirmed' AND x.status <> 'pending')
       OR (a.action = 'withdrawn' AND x.status = 'unsubscribed')
    """,
    # 1% erased: their rows go, an erased event and a suppression stay.
    """
    INSERT INTO consent_event (subscriber_key, scope, action, source, occurred_at)
    SELECT key, 'topic', 'erased', 'form', now() - interval '2 days'
    FROM subscriber WHERE mod(id * 53 + 11, 100) = 0
    """,
    """
    INSERT INTO suppression (address_hmac, reason, created_at)
    SELECT address_hmac, CASE WHEN mod(id, 2) = 0 THEN 'erased on request' ELSE 'hard-bounce' END,
           now() - interval '2 days'
    FROM subscriber WHERE mod(id * 53 + 11, 100) < 2
    """,
    """
    DELETE FROM subscription WHERE subscriber_id IN
        (SELECT id FROM subscriber WHERE mod(id * 53 + 11, 100) = 0)
    """,
    "DELETE FROM subscriber WHERE mod(id * 53 + 11, 100) = 0",
    # The sequencer's order (what `coopclub worker` gives them within seconds); the
    # rollup of the overview then integrates them (timed below).
    """
    INSERT INTO consent_log_entry (log_index, event_id, integrated_at)
    SELECT row_number() OVER (ORDER BY id) - 1, id, now() FROM consent_event
    """,
    # ...and the checkpoint its run leaves: the next run (and the overview's look at
    # events not yet in the log) starts from `scan_from`, not from the first event.
    """
    INSERT INTO consent_checkpoint (size, root_hash, note, created_at, scan_from)
    SELECT count(*), '\\x00'::bytea, 'bench: the seeded ledger, as sequenced', now(),
           now() - interval '10 minutes'
    FROM consent_log_entry
    """,
    "VACUUM ANALYZE",
]


def seed(database_url: str, topic_ids: list[int], count: int) -> None:
    common.psql(database_url, *SEED, count=count, first=topic_ids[0], topics=TOPICS)


def admin_client():  # type: ignore[no-untyped-def]
    from urllib.parse import urlsplit

    from fastapi.testclient import TestClient

    from app.auth.service import issue_login_link
    from app.db import session_scope
    from app.main import create_app
    from app.members.models import Account, Role

    client = TestClient(create_app())
    with session_scope() as session:
        account = Account(email="bench-admin@club.example.org", role=Role.admin, display_name="")
        session.add(account)
        session.flush()
        parts = urlsplit(issue_login_link(session, account=account))
    page = client.get(f"{parts.path}?{parts.query}")
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    client.post("/login/link", data={"token": token, "csrf_token": csrf})
    return client


def roll_up_everything() -> float:
    """Integrate the seeded ledger into the rollup, as the worker's ticks would."""
    from app.db import session_scope
    from app.subscribers import growth

    started = time.perf_counter()
    more = True
    while more:
        with session_scope() as session:
            more = growth.roll_up(session, page=500_000)
    return time.perf_counter() - started


def explain_slow(client, url: str, database_url: str, slower_than: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    """EXPLAIN ANALYZE every statement the page ran that took longer than `slower_than`."""
    from sqlalchemy import event

    from app.db import get_engine

    statements: list[tuple[float, str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        context._bench_started = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((time.perf_counter() - context._bench_started, statement, parameters))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    with psycopg.connect(database_url, autocommit=True) as db:
        for took, statement, parameters in statements:
            if took < slower_than or not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = db.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).fetchall()  # type: ignore[arg-type]
            log(f"--- {url}: {took * 1000:.0f} ms\n{statement}\n" + "\n".join(r[0] for r in plan))


def timed(client, url: str, repeat: int, expect: str) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or expect not in response.text:
            raise SystemExit(f"{url}: {response.status_code}, {expect!r} missing")
    return statistics.median(samples)


def measure(count: int, repeat: int, explain: bool = False) -> dict[str, float]:
    with (
        common.workdir(f"admin-scale-{count}") as work,
        common.fresh_database(f"admin_scale_{count}") as database_url,
        common.redis_namespace(f"admin-scale-{count}") as namespace,
    ):
        env = common.product_env(database_url, namespace, work)
        common.migrate(env)
        common.use_env(env)
        topic_ids = common.seed_topics(TOPICS)
        started = time.perf_counter()
        seed(database_url, topic_ids, count)
        with psycopg.connect(database_url, autocommit=True) as db:
            people, subscriptions, events = db.execute(
                "SELECT (SELECT count(*) FROM subscriber), (SELECT count(*) FROM subscription),"
                " (SELECT count(*) FROM consent_event)"
            ).fetchone()
            middle = db.execute(
                "SELECT id, email FROM subscriber ORDER BY id OFFSET %s LIMIT 1", (people // 2,)
            ).fetchone()
        log(
            f"{count:,}: {people:,} people, {subscriptions:,} subscriptions, {events:,} "
            f"events, seeded in {time.perf_counter() - started:.0f} s"
        )
        rolled = roll_up_everything()
        log(f"{count:,}: the rollup integrated {events:,} events in {rolled:.1f} s")
        client = admin_client()
        person_id, email = middle
        prefix = email[: len("reader") + 3]
        pages = {
            "overview": ("/admin", "Subscribers per topic"),
            "search (exact address)": (f"/admin/subscribers?q={email}", email),
            "search (address prefix)": (f"/admin/subscribers?q={prefix}", prefix),
            "search (topic, active)": (
                f"/admin/subscribers?topic={topic_ids[3]}&status=active",
                "@example.org",
            ),
            "person page": (f"/admin/subscribers/{person_id}", email),
        }
        for url, expect in pages.values():  # warm caches and the app once
            timed(client, url, 1, expect)
        if explain:
            for url, _expect in pages.values():
                explain_slow(client, url, database_url)
        figures = {
            name: timed(client, url, repeat, expect) for name, (url, expect) in pages.items()
        }
        figures["rollup catch-up (s, whole ledger)"] = rolled
        return figures


def run_size(count: int, repeat: int, explain: bool = False) -> dict[str, float]:
    """One size in a process of its own (the app's engine and settings are per process)."""
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "bench.admin_scale",
            "--one",
            str(count),
            "--repeat",
            str(repeat),
            *(["--explain"] if explain else []),
        ],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    sys.stderr.write(done.stderr if explain else done.stderr[-2000:] if done.returncode else "")
    if done.returncode != 0:
        raise SystemExit(f"the {count:,} run failed")
    *said, figures = done.stdout.strip().splitlines()
    print("\n".join(said), flush=True)
    return json.loads(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--explain", action="store_true", help="plans of slow statements")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeat, args.explain)))
        return
    small = run_size(args.small, args.repeat)
    large = run_size(args.large, args.repeat, args.explain)
    figures: dict[str, object] = {"small": args.small, "large": args.large, "pages": {}}
    worst = 0.0
    rollup = "rollup catch-up (s, whole ledger)"
    figures["rollup_seconds"] = {
        "small": round(small.pop(rollup), 2),
        "large": round(large.pop(rollup), 2),
    }
    for name in small:
        ratio = large[name] / small[name]
        worst = max(worst, ratio)
        figures["pages"][name] = {  # type: ignore[index]
            "small_ms": round(small[name] * 1000, 1),
            "large_ms": round(large[name] * 1000, 1),
            "ratio": round(ratio, 2),
        }
        print(
            f"RATIO admin {name}: {large[name] * 1000:.1f} ms at {args.large:,} / "
            f"{small[name] * 1000:.1f} ms at {args.small:,} = {ratio:.2f} (target <= 3)"
        )
    figures["ratio"] = round(worst, 2)
    figures["targets"] = {"ratio": 3.0}
    common.write_result("admin_scale", figures)


if __name__ == "__main__":
    main()
