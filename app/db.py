"""The database: one engine per process, sessions, and the metadata naming convention.

SQLite (the embedded default) and PostgreSQL through psycopg 3 behave the same to the
rest of the code. Whoever opens a session owns its transaction: a request through
`get_session`, an actor or a command through `session_scope`. Services never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import anyio
import sqlalchemy as sa
from fastapi import Depends
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from app.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    """Timestamps are aware UTC datetimes, to the microsecond, on both databases."""
    return datetime.now(UTC)


def enum_type(enum_cls: type[StrEnum]) -> sa.Enum:
    """Enums are stored as short strings, not native PostgreSQL enum types, so adding a
    state later is a code change rather than an ALTER TYPE migration."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=max(len(member.value) for member in enum_cls) + 8,
        values_callable=lambda cls: [member.value for member in cls],
    )


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn):  # type: ignore[no-untyped-def]
            # pysqlite's lazy BEGIN lets two writers deadlock on lock upgrade; take the
            # write lock up front so concurrent transactions queue instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_pre_ping=True)


# Connections a process keeps open, and how many more it opens for a burst (each closed
# again as soon as it is returned). A web process answers up to 40 requests at once
# (AnyIO's thread limit); with 10 kept, 16 at once (32 clients over 2 processes) opened
# and closed a connection for every request past the tenth: a new PostgreSQL backend
# each time, which took more of PostgreSQL's CPU than the statements themselves.
POOL_SIZE = 20
POOL_OVERFLOW = 10


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose transaction commits when the block ends, or rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


async def get_session() -> AsyncIterator[Session]:
    """The request's session. Opening one touches no database, so it happens on the event
    loop; its commit (or rollback) goes to a thread only when the request left a
    transaction open. A plain generator went to a thread and back twice on every request,
    one that never queried or that had committed itself too, and those hand-offs took
    more CPU than a signup's SQL."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
        if session.in_transaction():
            await _in_own_thread(session.commit)
    except BaseException:
        if session.in_transaction():
            await _in_own_thread(session.rollback)
        raise
    finally:
        session.close()  # the transaction has ended: nothing left to say to the database


async def _in_own_thread(end: Callable[[], None]) -> None:
    """End a request's transaction in a thread that does not wait for a free place among
    the requests' threads (AnyIO's 40): the transaction holds a pooled connection (and
    on SQLite the write lock) that those requests may be waiting for. Finishes even if
    the client has gone."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(end, limiter=anyio.CapacityLimiter(1))


# scope="function": the commit happens before the response is sent, so a client that
# sees 2xx can rely on what it changed being stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def ping() -> None:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
