"""append-only ledger on SQLite too

Revision ID: tlog_sqlite_append_only
Revises: admindata_topics_jobs

On PostgreSQL, triggers (0003, 0009) and the app role's grants keep the consent ledger
and its log append-only; SQLite gets the same refusal from its own triggers.
"""

from alembic import op

revision = "tlog_sqlite_append_only"
down_revision = "admindata_topics_jobs"
branch_labels = None
depends_on = None

TABLES = (
    "consent_event",
    "consent_text",
    "consent_log_entry",
    "consent_log_node",
    "consent_checkpoint",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
