"""Test setup: real services when configured, embedded ones otherwise.

With COOPCLUB_DATABASE_URL and COOPCLUB_REDIS_URL set (CI sets both) the suite runs on
PostgreSQL and Redis: a fresh database and a fresh Redis namespace per run, so runs
never see each other. Without them it runs on SQLite and the in-process broker.
Each test starts from empty tables. Mail goes to a real SMTP server in this process.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

# Dramatiq's consumer threads wait this long before consuming again after a pause or a
# lost broker connection (3 s by default, read when dramatiq is imported). Tests pause
# the in-process worker to watch one request alone, hundreds of times a run.
os.environ.setdefault("dramatiq_restart_delay", "100")

from tests.smtp_sink import SmtpSink  # noqa: E402

RUN_ID = secrets.token_hex(4)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Below, this process points COOPCLUB_DATABASE_URL at its own database; pytest-xdist's
# workers inherit the controller's environment, so the server the user named is kept
# aside for them: each worker (each process) makes a database of its own on it.
SERVER_DATABASE_URL = os.environ.setdefault(
    "COOPCLUB_TEST_SERVER_DATABASE_URL", os.environ.get("COOPCLUB_DATABASE_URL", "")
)
REDIS_URL = os.environ.get("COOPCLUB_REDIS_URL", "")
TMP = Path(tempfile.mkdtemp(prefix=f"coopclub-test-{RUN_ID}-"))

SMTP_SINK = SmtpSink()
SMTP_SINK.start()


def _postgres_database_url(server_url: str) -> str:
    """The URL of coopclub_test_<run> on the configured server (made by `database`)."""
    from sqlalchemy.engine import make_url

    url = make_url(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
            "postgres://", "postgresql+psycopg://", 1
        )
    )
    return url.set(database=f"coopclub_test_{RUN_ID}").render_as_string(hide_password=False)


def _create_postgres_database(server_url: str, url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(server_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{make_url(url).database}"')


def _drop_postgres_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


# On PostgreSQL the app runs as a least-privileged role, as production should
# (docs/consent-log.md): the owner migrates and empties tables between tests; the app
# may only SELECT and INSERT on the consent ledger, so any code that needed more fails.
APP_ROLE = "coopclub_app"


def _app_role_url(owner_url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(owner_url)
    return parsed.set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


def _create_app_role(owner_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(owner_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )


# Named now (the app reads its settings on import), made when the first test needs it:
# under pytest-xdist the controller process runs no test and so makes no database.
OWNER_DATABASE_URL = (
    _postgres_database_url(SERVER_DATABASE_URL)
    if SERVER_DATABASE_URL
    else f"sqlite:///{TMP / 'test.sqlite3'}"
)
TEST_DATABASE_URL = _app_role_url(OWNER_DATABASE_URL) if SERVER_DATABASE_URL else OWNER_DATABASE_URL
os.environ.update(
    COOPCLUB_ENV="test",
    COOPCLUB_VAR_DIR=str(TMP / "var"),
    COOPCLUB_DATABASE_URL=TEST_DATABASE_URL,
    COOPCLUB_REDIS_NAMESPACE=f"coopclub-test-{RUN_ID}",
    COOPCLUB_SMTP_URL=SMTP_SINK.url,
    COOPCLUB_BASE_URL="http://testserver",
    COOPCLUB_SECRET_KEYS="test-key-old-0123456789abcdef,test-key-new-0123456789abcdef",
    COOPCLUB_MAIL_FROM="Co-op Data Club <news@club.test>",
    # The domains newsletters are sent from; a relay signs (no key) unless a test adds one.
    COOPCLUB_DKIM_KEYS="club.test:relay2026,club.example.org:relay2026",
)
if not REDIS_URL:
    os.environ.pop("COOPCLUB_REDIS_URL", None)

# Only now may the app be imported: the broker and engine read the settings above.
from sqlalchemy import Connection, Engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import workers  # noqa: E402, F401  (declares the actors)
from app import intake, jobs, ratelimit  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.consent import logscan  # noqa: E402
from app.consent.service import forget_known_texts  # noqa: E402
from app.db import get_engine, make_engine  # noqa: E402
from app.migrations import grant_app_role, upgrade  # noqa: E402
from app.subscribers.service import forget_open_topics  # noqa: E402
from tests.e2e.browser import AXE_JS, CHROMIUM  # noqa: E402

ON_POSTGRES = get_settings().database_kind == "postgresql"
ON_REDIS = get_settings().broker_kind == "redis"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    if not AXE_JS.exists():
        return f"{AXE_JS.relative_to(AXE_JS.parents[2])} is missing (npm ci)"
    return None


def _unique_node_ids(items: list[pytest.Item]) -> None:
    """Schemathesis (4.32) names each API operation's test test_x[GET /healthz], but
    pytest 9.2 builds the node id from the bare name, so all of them shared one id; and
    pytest-xdist, which hands out tests by id, ran only the first operation. Put the
    operation back into the id, and refuse to run with any id that is still shared."""
    for item in items:
        if "[" in item.name and not item.nodeid.endswith(item.name) and item.id.params is None:
            item._id = item.id.with_params(item.name.partition("[")[2].removesuffix("]"))
    shared = [nodeid for nodeid, n in Counter(i.nodeid for i in items).items() if n > 1]
    if shared:
        raise pytest.UsageError(f"tests share a node id (xdist would run one): {shared[:5]}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _unique_node_ids(items)
    missing = {
        "postgres": None if ON_POSTGRES else "set COOPCLUB_DATABASE_URL",
        "redis": None if ON_REDIS else "set COOPCLUB_REDIS_URL",
        "browser": browser_missing(),
    }
    for item in items:
        for marker, why in missing.items():
            if why and item.get_closest_marker(marker):
                if IN_CI:
                    raise pytest.UsageError(
                        f"CI=true but {item.nodeid} needs {marker} and it is not available: {why}"
                    )
                item.add_marker(pytest.mark.skip(reason=f"needs {marker}: {why}"))


def pytest_report_header(config: pytest.Config) -> str:
    settings = get_settings()
    return (
        f"coopclub: database={settings.database_kind} broker={settings.broker_kind} "
        f"smtp={SMTP_SINK.url}"
    )


@pytest.fixture(scope="session", autouse=True)
def database():
    """Build the schema the only way it is ever built: by running the migrations."""
    if ON_POSTGRES:
        _create_postgres_database(SERVER_DATABASE_URL, OWNER_DATABASE_URL)
        _create_app_role(OWNER_DATABASE_URL)
    upgrade(url=OWNER_DATABASE_URL)
    if ON_POSTGRES:
        grant_app_role(APP_ROLE, url=OWNER_DATABASE_URL)
    yield get_engine()
    get_engine().dispose()
    owner_engine().dispose()
    if ON_POSTGRES:
        _drop_postgres_database(OWNER_DATABASE_URL)


class TestWorker(jobs.WorkerPool):
    """As in production, transactional mail has threads of its own."""

    def __init__(self) -> None:
        super().__init__(4, 2, worker_timeout=100)

    def restart(self) -> None:
        """Stop (running jobs finish, fetched ones go back to their queues), drop every
        queued and delayed job, and start again with nothing to do."""
        self.stop(timeout=5000)
        _drop_queued_jobs()
        self.workers = TestWorker().workers
        self.start()


def _drop_queued_jobs() -> None:
    broker = jobs.broker
    if hasattr(broker, "do_qsize"):  # Redis: the stopped consumers gave theirs back
        broker.flush_all()
        return
    # The in-process broker's consumers drop what they fetched without marking it done
    # (Dramatiq's StubConsumer has no requeue), so the counts a join waits on start over.
    for queue in broker.queues.values():
        with queue.all_tasks_done:
            queue.queue.clear()
            queue.unfinished_tasks = 0
            queue.all_tasks_done.notify_all()


_WORKERS: list[TestWorker] = []


@pytest.fixture(scope="session")
def worker(database):
    """Dramatiq worker threads in this process, on the configured broker."""
    w = TestWorker()
    w.start()
    _WORKERS.append(w)
    yield w
    _WORKERS.remove(w)
    w.stop(timeout=5000)


def _jobs_left() -> int:
    """Jobs queued, delayed (a retry, a deferred batch) or running, on every queue."""
    broker = jobs.broker
    if hasattr(broker, "do_qsize"):  # Redis: counts the delay queue and the unacked too
        return sum(broker.do_qsize(q) for q in broker.get_declared_queues())
    return sum(q.unfinished_tasks for q in broker.queues.values())


def end_jobs() -> None:
    """A test's jobs end with it. One left queued or delayed ran during a later test, on
    that test's rows (or failed on missing ones and came back after its retry delay),
    and the later test's drain waited for it: a CI run timed out on a deferred batch
    left by another test. So anything left is dropped, after the running jobs finish
    on the rows they were started for."""
    if not _jobs_left():
        return
    if _WORKERS:
        _WORKERS[0].restart()
    else:
        _drop_queued_jobs()


def drain(timeout_ms: int = 30_000) -> None:
    """Wait until every queue is empty and every worker thread idle."""
    for queue in list(jobs.broker.get_declared_queues()):
        jobs.broker.join(queue, timeout=timeout_ms)


@pytest.fixture
def run_jobs(worker):
    """Call to wait for all enqueued jobs (and the jobs they enqueue) to finish."""

    def _run() -> None:
        drain()
        worker.join()
        drain()

    return _run


@pytest.fixture(autouse=True)
def clean_state(database):
    yield
    end_jobs()
    empty_tables()
    reset_transient_state()


@functools.cache
def owner_engine() -> Engine:
    """The schema owner's connection: what migrations, test cleanup and tests acting as
    a rogue operator use (on SQLite, the same database)."""
    return get_engine() if not ON_POSTGRES else make_engine(OWNER_DATABASE_URL)


@contextlib.contextmanager
def guards_lifted(conn: Connection) -> Iterator[None]:
    """What only the schema's owner can do: lift the append-only triggers of the consent
    ledger for the statements in the block (test cleanup, or a test's rogue operator)."""
    if ON_POSTGRES:
        query = "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname LIKE %s"
        names = conn.execute(text(query % "'%append_only'")).all()
        for table, name in names:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {name}"))
        yield
        for table, name in names:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {name}"))
        return
    triggers = conn.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    for name, _ in triggers:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _, sql in triggers:
        conn.execute(text(sql))


def empty_tables() -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    for attempt in range(5):
        try:
            with owner_engine().begin() as conn:
                if ON_POSTGRES:
                    # DELETE with triggers off (the superuser's replica role: no foreign-key
                    # or append-only checks) and every sequence back to 1 does what
                    # TRUNCATE ... RESTART IDENTITY does, in a tenth of the time on a test's
                    # few rows (TRUNCATE replaces each of the tables' files). The tables are
                    # locked first, as TRUNCATE locks them: a job still running from the test
                    # (the sequencer's 0.5 s tick, a send) finishes before the rows go, and
                    # waits to write until they have gone. Without the lock its uncommitted
                    # rows outlived the DELETE: a checkpoint and log entries whose event ids
                    # the next test's events reused, so those were never sequenced.
                    names = ", ".join(f'"{name}"' for name in tables)
                    conn.execute(text("SET LOCAL lock_timeout = '20s'"))  # a stuck one: retry
                    conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                    for name in tables:
                        conn.execute(text(f'DELETE FROM "{name}"'))
                    conn.execute(
                        text("SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'")
                    )
                else:
                    with guards_lifted(conn):
                        for name in tables:
                            conn.execute(text(f'DELETE FROM "{name}"'))
            return
        except OperationalError:
            # A job the test left running (a send, the consent log's sequencer) can hold
            # a lock we need while waiting for one we took: PostgreSQL breaks
            # the deadlock by failing one side; when that is us, try again.
            if attempt == 4:
                raise
            time.sleep(0.2)


def reset_transient_state() -> None:
    """Rate-limit counters and received mail: what outlives a request but not a test."""
    client = jobs.redis_client()
    if client is not None:
        for key in client.scan_iter(match=f"{get_settings().redis_namespace}:app:*"):
            client.delete(key)
    ratelimit.reset_local()
    forget_known_texts()
    forget_open_topics()
    intake.done_marks.forget()
    jobs.forget_sweep()
    logscan.forget()
    SMTP_SINK.clear()


@pytest.fixture
def smtp() -> SmtpSink:
    return SMTP_SINK


@pytest.fixture
def client():
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    SMTP_SINK.stop()
    # A pytest-xdist worker hands its security figures to the controller, which prints them.
    if hasattr(session.config, "workeroutput"):
        from tests.security.conftest import FIGURES

        session.config.workeroutput["security_figures"] = dict(FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # pytest-xdist's controller: a worker is done
    from tests.security.conftest import FIGURES

    FIGURES.update(getattr(node, "workeroutput", {}).get("security_figures", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.security.conftest import FIGURES

    if FIGURES:
        terminalreporter.section("security figures")
        for name, value in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value}")
