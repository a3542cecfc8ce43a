"""Alembic environment: the URL comes from the app's settings, the metadata from app.schema."""

from sqlmodel import SQLModel

import app.schema  # noqa: F401  (registers every table)
from alembic import context
from app.db import get_engine
from app.members.directory import HAND_MADE_INDEXES

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine().connect() as connection:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # Expression indexes made by hand in their migration (app/members/directory.py).
        include_object=lambda obj, name, type_, reflected, compare_to: (
            not (type_ == "index" and name in HAND_MADE_INDEXES)
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `coopclub db upgrade`")
run_migrations_online()
