"""The migrations are the only source of the schema, so they must match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.schema  # noqa: F401
from app.members.directory import HAND_MADE_INDEXES


def _declared(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    return not (type_ == "index" and name in HAND_MADE_INDEXES)


def test_models_and_migrations_agree(database):
    with database.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _declared}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], f"run `alembic revision --autogenerate`: {differences}"


def test_every_table_follows_the_naming_convention(database):
    from sqlalchemy import inspect

    inspector = inspect(database)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        assert inspector.get_pk_constraint(table)["name"] == f"pk_{table}"
        for fk in inspector.get_foreign_keys(table):
            assert fk["name"].startswith(f"fk_{table}_")


def test_the_migrations_are_one_line():
    """Parallel branches each adding a migration must re-chain onto main's head."""
    from alembic.script import ScriptDirectory

    from app.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, script.get_heads()
