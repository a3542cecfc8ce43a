"""Audience assembly at a million: 1,000,000 subscribers over 20 topics with
overlapping subscriptions (2% suppressed, 5% pending); one issue on 16 of the topics
is assembled into Delivery rows by the product's assembler in a process of its own
(its peak RSS is measured), against one hand-written INSERT ... SELECT doing the same
set logic on the same data.

    .venv/bin/python -m bench.assemble [--subscribers 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psycopg

from bench import common
from bench.common import log

TOPICS = 20
ISSUE_TOPICS = 16  # the newsletter's topics; subscribers only on the other 4 are left out


def seed(database_url: str, topic_ids: list[int], count: int) -> None:
    """Each subscriber is on two or three topics; 5% of subscriptions are pending and
    2% of addresses suppressed (by HMAC, like the product's own suppressions)."""
    first = topic_ids[0]
    common.psql(
        database_url,
        """
        INSERT INTO subscriber (key, email, address_hmac, created_at)
        SELECT md5('k' || n), 'reader' || n || '@example.org', md5('a' || n), now()
        FROM generate_series(1, %(count)s) AS n
        """,
        """
        INSERT INTO subscription (subscriber_id, topic_id, status, updated_at)
        SELECT DISTINCT ON (s.id, t.topic) s.id, %(first)s + t.topic,
               CASE WHEN mod(s.id * 37 + t.topic, 100) < 5 THEN 'pending' ELSE 'active' END,
               now()
        FROM subscriber s
        CROSS JOIN LATERAL (VALUES (mod(s.id, %(topics)s)), (mod(s.id * 7 + 3, %(topics)s)),
                                   (mod(s.id * 13 + 5, %(topics)s)))
             AS t(topic)
        WHERE t.topic <> mod(s.id * 13 + 5, %(topics)s) OR mod(s.id, 2) = 0
        """,
        """
        INSERT INTO suppression (address_hmac, reason, created_at)
        SELECT address_hmac, 'bench', now() FROM subscriber WHERE mod(id * 53 + 11, 100) < 2
        """,
        "VACUUM ANALYZE",
        count=count,
        first=first,
        topics=TOPICS,
    )


REFERENCE = """
INSERT INTO delivery (issue_id, subscriber_id, batch, status, attempts, created_at)
SELECT %(issue)s, s.id, 1, 'queued', 0, now()
FROM subscriber s
WHERE EXISTS (SELECT 1 FROM subscription x
              WHERE x.subscriber_id = s.id AND x.status = 'active'
                AND x.topic_id = ANY(%(topics)s))
  AND NOT EXISTS (SELECT 1 FROM suppression p WHERE p.address_hmac = s.address_hmac)
"""

CHILD = """
import json, resource, sys, time
import workers  # noqa: F401  (the same imports as a worker process)
from app.db import session_scope
from app.sending import assembly
issue_id = int(sys.argv[1])
started = time.perf_counter()
rows = assembly.assemble(session_scope, issue_id)
seconds = time.perf_counter() - started
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_kb": peak_kb}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="COOPCLUB_SEND_BATCH_SIZE (page size)"
    )
    args = parser.parse_args()
    extra = {"COOPCLUB_SEND_BATCH_SIZE": str(args.batch_size)} if args.batch_size else {}

    with (
        common.workdir("assemble") as work,
        common.fresh_database("assemble") as database_url,
        common.redis_namespace("assemble") as namespace,
    ):
        env = common.product_env(database_url, namespace, work, **extra)
        common.migrate(env)
        common.use_env(env)
        topic_ids = common.seed_topics(TOPICS)
        issue_topics = topic_ids[:ISSUE_TOPICS]
        product_issue = common.seed_issue(issue_topics, body_chars=2_000)
        t0 = time.perf_counter()
        seed(database_url, topic_ids, args.subscribers)
        log(f"seeded {args.subscribers:,} subscribers in {time.perf_counter() - t0:.0f} s")

        with psycopg.connect(database_url, autocommit=True) as db:
            counts = db.execute(
                "SELECT (SELECT count(*) FROM subscription),"
                " (SELECT count(*) FROM subscription WHERE status = 'pending'),"
                " (SELECT count(*) FROM suppression)"
            ).fetchone()
            log(f"subscriptions {counts[0]:,}, pending {counts[1]:,}, suppressed {counts[2]:,}")
            # The reference goes into a second issue of the same newsletter, then is
            # emptied again, so both start from the same empty delivery table.
            reference_issue = db.execute(
                "INSERT INTO issue (newsletter_id, number, subject, preheader, status, timezone,"
                " assembly_done, batches, failure_streak, created_at, updated_at)"
                " SELECT newsletter_id, number + 1, subject, '', 'draft', 'UTC', false, 0, 0,"
                " now(), now() FROM issue WHERE id = %s RETURNING id",
                (product_issue,),
            ).fetchone()[0]
            db.execute("CHECKPOINT")
            started = time.perf_counter()
            reference_rows = db.execute(
                REFERENCE, {"issue": reference_issue, "topics": issue_topics}
            ).rowcount
            reference = time.perf_counter() - started
            log(f"reference: {reference_rows:,} rows in {reference:.2f} s")
            db.execute("TRUNCATE delivery, bounce_report")
            db.execute("VACUUM ANALYZE delivery")
            db.execute("CHECKPOINT")

            common.start_issue(product_issue)  # its job waits in Redis; nobody consumes it
            child = subprocess.run(  # noqa: S603
                [sys.executable, "-c", CHILD, str(product_issue)],
                env=env,
                cwd=common.ROOT,
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
            if child.returncode != 0:
                raise SystemExit("assembler failed:\n" + child.stderr[-3000:])
            measured = json.loads(child.stdout.strip().splitlines()[-1])
            product_rows = db.execute(
                "SELECT count(*) FROM delivery WHERE issue_id = %s", (product_issue,)
            ).fetchone()[0]
            batches = db.execute(
                "SELECT batches FROM issue WHERE id = %s", (product_issue,)
            ).fetchone()[0]

        product = measured["seconds"]
        peak_mb = measured["peak_rss_kb"] / 1024
        log(
            f"product: {product_rows:,} rows in {product:.2f} s, {batches:,} pages, "
            f"peak RSS {peak_mb:.0f} MB"
        )
        if product_rows != reference_rows:
            log(f"MISMATCH: product {product_rows:,} rows, reference {reference_rows:,}")
        ratio = product / reference
        print(
            f"RATIO assemble: product/reference = {ratio:.2f} ({product:.2f} s / "
            f"{reference:.2f} s; target <= 2.0, <= 60 s); peak RSS {peak_mb:.0f} MB "
            "(target <= 300 MB)"
        )
        common.write_result(
            f"assemble-batch{args.batch_size}" if args.batch_size else "assemble",
            {
                "subscribers": args.subscribers,
                "subscriptions": counts[0],
                "pending": counts[1],
                "suppressed": counts[2],
                "audience": product_rows,
                "reference_rows": reference_rows,
                "rows_match": product_rows == reference_rows,
                "reference_seconds": round(reference, 2),
                "product_seconds": round(product, 2),
                "ratio": round(ratio, 2),
                "pages": batches,
                "page_size": int(env.get("COOPCLUB_SEND_BATCH_SIZE", 500)),
                "peak_rss_mb": round(peak_mb, 1),
                "targets": {"ratio": 2.0, "seconds": 60, "peak_rss_mb": 300},
            },
        )


if __name__ == "__main__":
    main()
