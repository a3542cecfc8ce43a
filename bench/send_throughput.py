"""Send throughput: a real issue to 50,000 subscribers through `coopclub worker`
(2 processes) into Postfix's smtp-sink, against smtp-source's own rate into the same
sink (20 sessions, reused connections, 20 KB messages).

    .venv/bin/python -m bench.send_throughput [--subscribers 50000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import psycopg

from bench import common
from bench.common import log


def seed_subscribers(database_url: str, topic_id: int, count: int) -> None:
    common.psql(
        database_url,
        """
        INSERT INTO subscriber (key, email, address_hmac, first_name, created_at)
        SELECT md5('k' || n), 'reader' || n || '@example.org', md5('a' || n),
               'Reader ' || n, now()
        FROM generate_series(1, %(count)s) AS n
        """,
        """
        INSERT INTO subscription (subscriber_id, topic_id, status, updated_at)
        SELECT id, %(topic)s, 'active', now() FROM subscriber
        """,
        "ANALYZE",
        count=count,
        topic=topic_id,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=50_000)
    parser.add_argument("--reference-messages", type=int, default=50_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    with (
        common.workdir("send_throughput") as work,
        common.fresh_database("send") as database_url,
        common.redis_namespace("send") as namespace,
    ):
        sink = common.SmtpSink(work)
        worker = None
        try:
            log(f"smtp-sink on 127.0.0.1:{sink.port}")
            log("reference: smtp-source, 20 sessions, reused connections, 20 KB messages")
            reference = common.reference_smtp_source(
                sink.port, messages=args.reference_messages, sessions=20, size=20 * 1024
            )
            log(f"reference: {reference:,.0f} messages/s")

            # Signed as every real deployment signs: DKIM with an RSA-2048 key.
            env = common.product_env(
                database_url,
                namespace,
                work,
                COOPCLUB_SMTP_URL=sink.url,
                COOPCLUB_DKIM_KEYS=common.dkim_key(work),
            )
            common.migrate(env)
            common.use_env(env)
            (topic_id,) = common.seed_topics(1)
            issue_id = common.seed_issue([topic_id], body_chars=4_300)
            seed_subscribers(database_url, topic_id, args.subscribers)
            log(f"seeded {args.subscribers:,} active subscribers")
            message_size = sample_size(issue_id)
            log(f"one composed message: {message_size:,} bytes")

            worker = common.Proc(
                "worker",
                [common.COOPCLUB, "worker", "-p", str(args.processes), "-t", str(args.threads)],
                env,
                work,
            )
            time.sleep(4)  # let the worker processes import and connect
            if worker.popen.poll() is not None:
                raise SystemExit("worker exited:\n" + worker.tail())

            started = time.perf_counter()
            common.start_issue(issue_id)
            with psycopg.connect(database_url, autocommit=True) as db:

                def sent() -> int:
                    return db.execute(
                        "SELECT count(*) FROM delivery WHERE issue_id = %s AND status = 'sent'",
                        (issue_id,),
                    ).fetchone()[0]  # type: ignore[index]

                done = common.wait_until(lambda: sent() >= args.subscribers, args.timeout, 0.05)
                elapsed = time.perf_counter() - started
                count = sent()
                statuses = dict(
                    db.execute(
                        "SELECT status, count(*) FROM delivery WHERE issue_id = %s GROUP BY 1",
                        (issue_id,),
                    ).fetchall()
                )
                last_sent = db.execute(
                    "SELECT extract(epoch FROM max(sent_at) - min(claimed_at)) FROM delivery"
                    " WHERE issue_id = %s",
                    (issue_id,),
                ).fetchone()[0]  # type: ignore[index]
            if not done:
                log(f"TIMEOUT: {count:,} of {args.subscribers:,} sent; {statuses}")
            product = count / elapsed
            log(f"product: {count:,} messages in {elapsed:.1f} s = {product:,.0f} messages/s")
            # The machine is shared: measure the reference again after, and use the mean.
            reference_after = common.reference_smtp_source(
                sink.port, messages=args.reference_messages, sessions=20, size=20 * 1024
            )
            log(f"reference again: {reference_after:,.0f} messages/s")
            reference_before, reference = reference, (reference + reference_after) / 2
            log(f"deliveries by status: {statuses}; first claim to last accept {last_sent:.1f} s")
            print(common.ratio_line("send_throughput", product, reference, "messages/s", ">= 0.5"))
            signs = rsa_signatures_per_second(common.dkim_key_path(env))
            cores = os.cpu_count() or 1
            log(
                f"signing ceiling: one RSA-2048 signature per message, {signs:,.0f}/s on one "
                f"core; all {cores} cores signing and doing nothing else: "
                f"{signs * cores:,.0f} messages/s = "
                f"{signs * cores / reference:.2f} of the reference"
            )
            common.write_result(
                "send_throughput",
                {
                    "reference_messages_per_s": round(reference, 1),
                    "reference_before": round(reference_before, 1),
                    "reference_after": round(reference_after, 1),
                    "product_messages_per_s": round(product, 1),
                    "ratio": round(product / reference, 3),
                    "target_ratio": 0.5,
                    "messages": count,
                    "seconds": round(elapsed, 2),
                    "complete": done,
                    "message_bytes": message_size,
                    "worker_processes": args.processes,
                    "worker_threads": args.threads,
                    "statuses": statuses,
                    "rsa2048_signatures_per_s_one_core": round(signs, 1),
                    "signing_ceiling_ratio": round(signs * cores / reference, 3),
                },
            )
        finally:
            if worker is not None:
                worker.stop()
            sink.stop()


def rsa_signatures_per_second(key_path: str, seconds: float = 3.0) -> float:
    """How many RSA-2048 PKCS#1 v1.5 SHA-256 signatures one core makes per second with
    the bench's DKIM key (the one signature every message needs), measured now."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    data, count = b"dkim-signature header and signed fields" * 8, 0
    started = time.process_time()
    while time.process_time() - started < seconds:
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
        count += 1
    return count / (time.process_time() - started)


def sample_size(issue_id: int) -> int:
    """The size of one composed message, to compare with smtp-source's 20 KB."""
    from sqlmodel import select

    from app.audiences.service import for_issue
    from app.db import session_scope
    from app.newsletters.models import Issue
    from app.sending.batches import issue_composer
    from app.sending.composer import Recipient
    from app.subscribers.models import Subscriber
    from app.subscribers.service import preferences_url, unsubscribe_url

    with session_scope() as session:
        issue = session.get(Issue, issue_id)
        subscriber = session.exec(select(Subscriber)).first()
        composer = issue_composer(session, issue, for_issue(session, issue))  # type: ignore[arg-type]
        raw = composer.compose(
            Recipient(
                delivery_id=1,
                email=subscriber.email,  # type: ignore[union-attr]
                first_name=subscriber.first_name,  # type: ignore[union-attr]
                unsubscribe_url=unsubscribe_url(subscriber, None),  # type: ignore[arg-type]
                preferences_url=preferences_url(subscriber),  # type: ignore[arg-type]
            )
        )
    return len(raw.raw)


if __name__ == "__main__":
    main()
