"""What a signup costs the machine, all of it: the CPU every process spends on a burst of
signups, counted from the burst's start until the worker has done everything they left
(the jobs, the confirmations, the log) and gone idle, divided by the signups accepted;
against the same count for GET /healthz in the same run (the reference).

`bench.signup_load` times the answers; the jobs run after them, so its signup rate says
little about what a machine sustains. This says where the time goes, per process kind:
`web` (`coopclub serve`), `worker` (`coopclub worker` and its job processes), `pg`
(PostgreSQL's processes, including backends and autovacuum workers that have already
exited, counted through their parent), `redis`, and `client` (wrk).

    .venv/bin/python -m bench.signup_cost [--rounds 2] [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench import common
from bench.common import log
from bench.signup_load import running_server, wait_for_backlog, wrk

KINDS = ("web", "worker", "pg", "redis", "client", "other")


def _kind(command: str) -> str:
    if "postgres" in command:
        return "pg"
    if "coopclub serve" in command or "multiprocessing" in command:
        return "web"
    if "coopclub worker" in command or "dramatiq" in command:
        return "worker"
    if "redis-server" in command:
        return "redis"
    if command.startswith("wrk") or "/wrk " in command:
        return "client"
    return "other"


def cpu_ticks() -> dict[str, int]:
    """Clock ticks of CPU per process kind, each process's own and its reaped children's
    (so a PostgreSQL backend that has exited still counts, through the postmaster)."""
    totals = dict.fromkeys(KINDS, 0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 after the name
        totals[_kind(command)] += sum(int(value) for value in fields[11:15])
    return totals


def wait_until_idle(quiet_ticks: int = 10, interval: float = 2.0) -> None:
    """Until the worker spends less than `quiet_ticks` in `interval` seconds."""
    while True:
        before = cpu_ticks()["worker"]
        time.sleep(interval)
        if cpu_ticks()["worker"] - before < quiet_ticks:
            return


def per_request(before: dict[str, int], after: dict[str, int], requests: int) -> dict[str, float]:
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    return {kind: (after[kind] - before[kind]) * tick_ms / requests for kind in KINDS}


def _line(cost: dict[str, float]) -> str:
    parts = ", ".join(f"{kind} {ms:.2f}" for kind, ms in cost.items())
    return f"{parts}; total {sum(cost.values()):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--worker-nice", type=int, default=10)
    args = parser.parse_args()
    with running_server("signup_cost", COOPCLUB_WORKER_NICE=str(args.worker_nice)) as (
        port,
        database_url,
    ):
        wrk(port, path="/api/v1/subscribe", seconds=3, connections=8, prefix="warm")
        wait_for_backlog(database_url)
        wait_until_idle()
        before = cpu_ticks()
        reference = wrk(port, path="/healthz", seconds=10, connections=args.connections, prefix="x")
        healthz = per_request(before, cpu_ticks(), reference["requests"])
        log(f"reference GET /healthz, CPU ms per request: {_line(healthz)}")
        rounds = []
        for n in range(1, args.rounds + 1):
            before, started = cpu_ticks(), time.perf_counter()
            load = wrk(
                port,
                path="/api/v1/subscribe",
                seconds=args.seconds,
                connections=args.connections,
                prefix=f"cost{n}-",
            )
            wait_for_backlog(database_url)
            wait_until_idle()
            cost = per_request(before, cpu_ticks(), load["accepted"])
            rounds.append(cost)
            log(
                f"round {n}: {load['accepted']:,} signups at {load['per_s']:,.0f}/s, idle"
                f" {time.perf_counter() - started:.0f} s after the burst began; CPU ms per"
                f" signup: {_line(cost)}"
            )
        totals = sorted(sum(cost.values()) for cost in rounds)
        median = totals[len(totals) // 2]
        reference_total = sum(healthz.values())
        print(
            common.ratio_line(
                "signup_cost",
                median,
                reference_total,
                "ms of CPU",
                "lower is better: a signup's whole cost in /healthz requests",
            )
        )
        common.write_result(
            "signup_cost",
            {
                "healthz_ms": healthz,
                "signup_ms_by_round": rounds,
                "signup_total_ms_median": round(median, 2),
                "ratio": round(median / reference_total, 2),
            },
        )


if __name__ == "__main__":
    main()
