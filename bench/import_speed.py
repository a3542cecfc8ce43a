"""CSV import speed: rows per second and SQL statements per row of an import job run
through its chunks (`ImportRun.chunk`, as the worker runs it) on PostgreSQL, for a file
that mixes what real lists hold: new addresses (most), people already on the list,
people who unsubscribed or were erased, bounced or complained (skipped), duplicates and
invalid lines. The reference, measured in the same run, is one multi-row INSERT of the
same number of bare subscriber rows: what a database does with no rules at all.

    .venv/bin/python -m bench.import_speed [--rows 3000]
"""

from __future__ import annotations

import argparse
import time

from bench import common
from bench.common import log


def _csv(rows: int) -> str:
    lines = ["email,first_name"]
    for n in range(rows):
        kind = n % 20
        if kind == 0:
            lines.append(f"gone{n % 200}@example.org,")  # unsubscribed earlier
        elif kind == 1:
            lines.append(f"blocked{n % 200}@example.org,")  # suppressed (bounce, complaint...)
        elif kind == 2:
            lines.append(f"new{n - 2}@example.org,")  # a duplicate of the line before
        elif kind == 3:
            lines.append("not an address,")
        else:
            lines.append(f"new{n}@example.org,Reader {n}")
    return "\n".join(lines) + "\n"


def _seed_people() -> None:
    from sqlmodel import select

    from app.consent.models import ConsentSource
    from app.db import session_scope
    from app.subscribers import preferences
    from app.subscribers.models import Topic
    from app.subscribers.service import suppress
    from app.subscribers.signup import Signup, request_subscription

    reasons = ("hard-bounce", "complaint", "erased on request", "soft-bounces")
    with session_scope() as session:
        topic = session.exec(select(Topic)).first()
        for n in range(200):
            suppress(session, f"blocked{n}@example.org", reasons[n % len(reasons)])
            request_subscription(
                session,
                signup=Signup(
                    email=f"gone{n}@example.org", topics=[topic], source=ConsentSource.form
                ),
            )
        session.flush()
        from app.subscribers.models import Subscriber

        for person in session.exec(select(Subscriber)).all():
            preferences.unsubscribe(session, subscriber=person, topic_ids=None, token=None)


def measure(rows: int) -> dict[str, float]:
    with (
        common.workdir("import-speed") as work,
        common.fresh_database("import_speed") as database_url,
        common.redis_namespace("import-speed") as namespace,
    ):
        env = common.product_env(database_url, namespace, work)
        common.migrate(env)
        common.use_env(env)
        from sqlalchemy import event
        from sqlmodel import select

        from app.db import get_engine, session_scope
        from app.subscribers import importer
        from app.subscribers.models import ImportJob, Topic

        topic_ids = common.seed_topics(2)
        _seed_people()
        content = _csv(rows)
        with session_scope() as session:
            topics = list(session.exec(select(Topic).where(Topic.id.in_(topic_ids))).all())  # type: ignore[union-attr]
            job = importer.start_import(
                session, content=content, filename="bench.csv", topics=topics, account_id=None
            )
            job_id = job.id
        statements = 0

        def count(*_args: object) -> None:
            nonlocal statements
            statements += 1

        engine = get_engine()
        event.listen(engine, "before_cursor_execute", count)
        run = importer.ImportRun(job_id)  # type: ignore[arg-type]
        started = time.perf_counter()
        more = True
        while more:
            with session_scope() as session:
                more = run.chunk(session)
        elapsed = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
        with session_scope() as session:
            report = importer.ImportReport.from_json(session.get(ImportJob, job_id).report)  # type: ignore[union-attr]
        log(f"import of {rows:,} rows: {elapsed:.1f} s, {statements:,} statements; {report.counts}")

        # The reference: the same number of bare rows in one statement.
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as db:
            started = time.perf_counter()
            db.execute(
                "INSERT INTO subscriber (key, email, address_hmac, created_at) "
                "SELECT md5('r' || n), 'ref' || n || '@example.org', md5('h' || n), now() "
                "FROM generate_series(1, %s) AS n",
                (rows,),
            )
            reference = time.perf_counter() - started
        return {
            "rows_per_second": rows / elapsed,
            "ms_per_row": 1000 * elapsed / rows,
            "statements_per_row": statements / rows,
            "reference_rows_per_second": rows / reference,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args()
    figures = measure(args.rows)
    ratio = figures["rows_per_second"] / figures["reference_rows_per_second"]
    print(
        f"RATIO import: {figures['rows_per_second']:.0f} rows/s "
        f"({figures['ms_per_row']:.1f} ms/row, {figures['statements_per_row']:.1f} statements/row)"
        f" / bare INSERT {figures['reference_rows_per_second']:.0f} rows/s = {ratio:.4f}"
    )
    common.write_result(
        "import_speed", {"rows": args.rows, **{k: round(v, 2) for k, v in figures.items()}}
    )


if __name__ == "__main__":
    main()
