"""What the three benches share: a fresh PostgreSQL database and Redis namespace per
run, the product started as real processes, Postfix's smtp-sink, and result files.

Everything listens on and talks to 127.0.0.1 only, and everything a bench starts is
stopped (bounded in time) when it ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
COOPCLUB = str(Path(PYTHON).with_name("coopclub"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105 - a throwaway database
STOP_SECONDS = 15


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")  # so every `finally` cleans up


signal.signal(signal.SIGTERM, _terminate)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, object]:
    memory_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def write_result(name: str, figures: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "bench": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"wrote {path.relative_to(ROOT)}")
    return path


@contextlib.contextmanager
def fresh_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for this run; dropped afterwards."""
    database = f"bench_{name}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def redis_namespace(name: str) -> Iterator[str]:
    """A Redis key prefix of this run's own; its keys are deleted afterwards."""
    namespace = f"bench-{name}-{os.getpid()}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield namespace
    finally:
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


def product_env(database_url: str, namespace: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOPCLUB_")}
    env.update(
        COOPCLUB_ENV="development",
        COOPCLUB_DATABASE_URL=database_url,
        COOPCLUB_REDIS_URL=REDIS_URL,
        COOPCLUB_REDIS_NAMESPACE=namespace,
        COOPCLUB_SECRET_KEYS=SECRET,
        COOPCLUB_VAR_DIR=str(var_dir),
        COOPCLUB_BASE_URL="http://127.0.0.1:8000",
        COOPCLUB_MAIL_FROM="Co-op Data Club <news@club.example.org>",
    )
    env.update(extra)
    return env


def dkim_key(work: Path) -> str:
    """A fresh RSA-2048 signing key for the bench's domain; the COOPCLUB_DKIM_KEYS value."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = work / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return f"club.example.org:bench:{path}"


def dkim_key_path(env: dict[str, str]) -> str:
    """The key file of the COOPCLUB_DKIM_KEYS value `dkim_key` made."""
    return env["COOPCLUB_DKIM_KEYS"].split(":", 2)[2]


def use_env(env: dict[str, str]) -> None:
    """Configure this process like the product's (for seeding through the app's code)."""
    for key in [k for k in os.environ if k.startswith("COOPCLUB_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("COOPCLUB_")})
    import app.schema  # noqa: F401  (every table, so foreign keys resolve)
    from app.config import get_settings

    get_settings.cache_clear()


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(  # noqa: S603
        [COOPCLUB, "db", "upgrade"], env=env, cwd=ROOT, timeout=300, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit("coopclub db upgrade failed:\n" + done.stderr[-3000:])


class Proc:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(  # noqa: S603 - our own commands
            command,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> list[int]:
        """This process and all its descendants."""
        found, todo = [], [self.popen.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children = (task / "children").read_text().split()
                    todo.extend(int(c) for c in children)
        return found

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of one process in KB, from /proc."""
    now = peak = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return now, peak


class SmtpSink:
    """Postfix's smtp-sink on a loopback port: accepts and discards, and counts."""

    COUNTER = re.compile(rb"(\d+)\s*$")

    def __init__(self, log_dir: Path) -> None:
        binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not Path(binary).exists():
            raise SystemExit("smtp-sink not found: run `make bench` (it installs postfix)")
        self.port = free_port()
        command = [binary, "-c", f"127.0.0.1:{self.port}", "2048"]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]
        self.out = (log_dir / "smtp-sink.out").open("w+b")
        self.popen = subprocess.Popen(  # noqa: S603
            command, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise SystemExit("smtp-sink did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.out.close()


def reference_smtp_source(port: int, *, messages: int, sessions: int, size: int) -> float:
    """smtp-source's rate (messages/s) into the sink: the SMTP limit on this machine."""
    binary = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    command = [
        binary,
        "-d",
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-l",
        str(size),
        "-f",
        "bench@club.example.org",
        "-t",
        "reader@example.org",
        f"127.0.0.1:{port}",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=600, stdout=subprocess.DEVNULL)  # noqa: S603
    return messages / (time.perf_counter() - started)


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"coopclub-bench-{name}-"))
    try:
        yield path
    finally:
        keep = RESULTS / "logs" / name
        with contextlib.suppress(OSError):
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir(parents=True, exist_ok=True)
            for log_file in path.glob("*.log"):
                shutil.copy(log_file, keep / log_file.name)
        shutil.rmtree(path, ignore_errors=True)


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def ratio_line(name: str, product: float, reference: float, unit: str, target: str) -> str:
    ratio = product / reference if reference else float("nan")
    return (
        f"RATIO {name}: product/reference = {ratio:.3f} "
        f"({product:,.1f} / {reference:,.1f} {unit}; target {target})"
    )


# Seeding ----------------------------------------------------------------------------
# Topics and the issue go through the product's own services (so the issue is compiled
# exactly as in production); subscribers are bulk SQL, since only their volume matters.

PARAGRAPH = (
    "Member co-ops across the network shared what worked this season: bulk buying for "
    "the bakeries, a shared delivery van in the east end, and a tool library that now "
    "lends to three neighbourhoods. Read on for the numbers and the people behind them. "
)


def seed_topics(count: int) -> list[int]:
    from app.db import session_scope
    from app.subscribers.models import Topic

    with session_scope() as session:
        topics = [Topic(slug=f"topic-{n}", name=f"Topic {n}") for n in range(count)]
        session.add_all(topics)
        session.flush()
        return [t.id for t in topics]  # type: ignore[misc]


def seed_issue(topic_ids: list[int], *, body_chars: int) -> int:
    """A newsletter on `topic_ids` and one scheduled issue whose text is about
    `body_chars` long; returns the issue id."""
    from datetime import timedelta

    from sqlmodel import select

    from app.db import session_scope, utcnow
    from app.newsletters import service
    from app.newsletters.models import IssueBlock, Newsletter

    with session_scope() as session:
        newsletter = Newsletter(
            slug="bench",
            name="The Bench Weekly",
            sender_name="Co-op Data Club",
            sender_address="news@club.example.org",
            sponsor_slots=0,
            classified_slots=0,
        )
        service.save_newsletter(session, newsletter, topic_ids=topic_ids)
        issue = service.create_issue(session, newsletter, subject="Spring at the co-ops")
        blocks = session.exec(select(IssueBlock).where(IssueBlock.issue_id == issue.id)).all()
        text = (PARAGRAPH * (body_chars // len(PARAGRAPH) + 1))[:body_chars]
        half = len(text) // 2
        for block, body in zip(blocks, [text[:half], text[half:]], strict=False):
            block.body = body
        session.flush()
        service.schedule(session, issue, send_at=utcnow() + timedelta(hours=1), timezone="UTC")
        return issue.id  # type: ignore[return-value]


def start_issue(issue_id: int) -> None:
    """What an admin's "Start sending now" does: the assembly job goes out on commit."""
    from app.db import session_scope
    from app.newsletters.models import Issue
    from app.sending import lifecycle

    with session_scope() as session:
        lifecycle.start(session, session.get(Issue, issue_id))  # type: ignore[arg-type]


def psql(database_url: str, *statements: str, **params: object) -> None:
    """Run `statements` in order; each may use any of `params` as %(name)s."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        for statement in statements:
            used = {k: v for k, v in params.items() if f"%({k})s" in statement}
            connection.execute(statement, used or None)  # type: ignore[arg-type]
