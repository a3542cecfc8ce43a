"""consent transparency log: entries, subtree hashes, signed checkpoints

Revision ID: tlog_consent_log
Revises: money_once_per_booking
Create Date: 2026-11-30 09:49:58.564868

Existing events become the log's first leaves when the sequencer first runs (in id
order, which is their chain order); their old chain fields stay for history and become
optional for new events. On PostgreSQL the new tables are append-only like the ledger.
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "tlog_consent_log"
down_revision = "money_once_per_booking"
branch_labels = None
depends_on = None

LOG_TABLES = ("consent_log_entry", "consent_log_node", "consent_checkpoint")


def upgrade() -> None:
    op.create_table(
        "consent_checkpoint",
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("scan_from", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_consent_checkpoint")),
    )
    op.create_table(
        "consent_log_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_consent_log_node")),
    )
    op.create_table(
        "consent_log_entry",
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("integrated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["consent_event.id"],
            name=op.f("fk_consent_log_entry_event_id_consent_event"),
        ),
        sa.PrimaryKeyConstraint("log_index", name=op.f("pk_consent_log_entry")),
        sa.UniqueConstraint("event_id", name=op.f("uq_consent_log_entry_event_id")),
    )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("prev_hash", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_consent_event_occurred_at"), ["occurred_at"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        for table in LOG_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION coopclub_refuse_change()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LOG_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_event_occurred_at"))
        batch_op.alter_column("hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.alter_column("seq", existing_type=sa.INTEGER(), nullable=False)
    op.drop_table("consent_log_entry")
    op.drop_table("consent_log_node")
    op.drop_table("consent_checkpoint")
