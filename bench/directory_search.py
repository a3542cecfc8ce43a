"""Directory search at 10,000 members against the same at 100, in one run: word search
(PostgreSQL full-text, GIN-indexed), a filter (kind + region), words with a filter, a
substring search (`%` literal: the LIKE path), and the page after a keyset cursor,
each through the real app (`GET /api/v1/members`, FastAPI's TestClient) on PostgreSQL.
The ratio is median(10,000) / median(100) per query (target <= 3).

Each size runs in a process of its own (the app's engine is per process), on a fresh
database migrated by `coopclub db upgrade` and seeded with bulk SQL.

    .venv/bin/python -m bench.directory_search [--large 10000] [--small 100] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import common

WORDS = ["bread", "solar", "housing", "bikes", "coffee", "tools", "grain", "repair"]
KINDS = ["worker", "consumer", "producer", "housing", "platform"]
REGIONS = ["CA-QC", "CA-ON", "CA-BC", "CA-NS", "CA-AB"]

SEED = """
INSERT INTO member (name, slug, description, kind, region, country, status, created_at,
    updated_at, search_text, show_website, show_description, show_kind, show_region,
    show_logo, show_country, show_city, show_contact, show_founded, show_languages,
    show_offer, show_sectors, sectors, languages)
SELECT 'Co-op ' || n || ' ' || (%(words)s::text[])[1 + n %% 8],
       'coop-' || n,
       'We make ' || (%(words)s::text[])[1 + (n / 8) %% 8] || ' together since '
           || (1900 + n %% 120),
       (%(kinds)s::text[])[1 + n %% 5], (%(regions)s::text[])[1 + (n / 5) %% 5], 'CA', 'active',
       now() - make_interval(secs => n), now(),
       lower('co-op ' || n || ' ' || (%(words)s::text[])[1 + n %% 8] || ' we make '
             || (%(words)s::text[])[1 + (n / 8) %% 8] || ' together'),
       true, true, true, true, false, true, false, false, false, false, false, false,
       ',food,', ',en,'
FROM generate_series(1, %(count)s) AS n
"""

QUERIES = {
    "word search (full-text)": {"q": "bread"},
    "two words": {"q": "bread together"},
    "filter kind + region": {"kind": "worker", "region": "CA-QC"},
    "words + filter": {"q": "solar", "kind": "housing"},
    "literal % (substring)": {"q": "100%"},
    "newest first": {"sort": "newest"},
}


def measure(count: int, repeat: int) -> dict[str, float]:
    with (
        common.fresh_database(f"directory{count}") as url,
        tempfile.TemporaryDirectory() as var,
    ):
        env = common.product_env(url, f"bench-directory-{count}", Path(var))
        common.migrate(env)
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as db:
            db.execute(SEED, {"count": count, "words": WORDS, "kinds": KINDS, "regions": REGIONS})
            db.execute("ANALYZE member")
        common.use_env(env)
        from fastapi.testclient import TestClient

        from app.main import create_app

        figures: dict[str, float] = {}
        with TestClient(create_app()) as client:
            first = client.get("/api/v1/members", params={"limit": 20}).json()
            cases = dict(QUERIES) | {"next page (cursor)": {"cursor": first["next_cursor"]}}
            for name, params in cases.items():
                timings = []
                for _ in range(repeat + 2):
                    start = time.perf_counter()
                    response = client.get("/api/v1/members", params={**params, "limit": 20})
                    timings.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                figures[name] = statistics.median(timings[2:])  # two warm-ups
        return figures


def run_size(count: int, repeat: int) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - ourselves
        [
            sys.executable,
            "-m",
            "bench.directory_search",
            "--one",
            str(count),
            "--repeat",
            str(repeat),
        ],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"the {count:,} run failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.repeat)))
        return
    small = run_size(args.small, args.repeat)
    large = run_size(args.large, args.repeat)
    figures: dict[str, object] = {"small": args.small, "large": args.large, "queries": {}}
    worst = 0.0
    for name in small:
        ratio = large[name] / small[name]
        worst = max(worst, ratio)
        figures["queries"][name] = {  # type: ignore[index]
            "small_ms": round(small[name] * 1000, 1),
            "large_ms": round(large[name] * 1000, 1),
            "ratio": round(ratio, 2),
        }
        print(
            f"directory {name}: {large[name] * 1000:.1f} ms at {args.large:,} / "
            f"{small[name] * 1000:.1f} ms at {args.small:,} = {ratio:.2f}"
        )
    figures["ratio"] = round(worst, 2)
    figures["targets"] = {"ratio": 3.0}
    print(
        f"RATIO directory search: worst median({args.large:,}) / median({args.small:,}) "
        f"= {worst:.2f} (target <= 3)"
    )
    common.write_result("directory_search", figures)


if __name__ == "__main__":
    main()
