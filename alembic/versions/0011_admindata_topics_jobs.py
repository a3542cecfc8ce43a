"""admin data: topic status, admin actor in the ledger, import and export jobs, the
daily topic rollup, and the indexes the admin subscriber list pages through

Revision ID: admindata_topics_jobs
Revises: mailpipe_claims
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "admindata_topics_jobs"
down_revision = "mailpipe_claims"
branch_labels = None
depends_on = None

JOB_STATUS = sa.Enum(
    "queued", "running", "done", "failed", name="jobstatus", native_enum=False, length=15
)


def _job_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("status", JOB_STATUS, nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "open", "hidden", "archived", name="topicstatus", native_enum=False, length=16
                ),
                nullable=False,
                server_default="open",
            )
        )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_account_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_source_member_id"))
        batch_op.create_index(
            "ix_subscriber_source_member_id_id", ["source_member_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_subscriber_email_prefix",
            ["email"],
            unique=False,
            postgresql_ops={"email": "text_pattern_ops"},
        )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscription_topic_id_status_subscriber_id",
            ["topic_id", "status", "subscriber_id"],
            unique=False,
        )

    op.create_table(
        "topic_day",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("joined", sa.Integer(), nullable=False),
        sa.Column("left", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_topic_day_topic_id_topic")
        ),
        sa.PrimaryKeyConstraint("topic_id", "day", name=op.f("pk_topic_day")),
    )
    op.create_table(
        "ledger_rollup",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_rollup")),
    )
    op.create_table(
        "import_job",
        *_job_columns(),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("topic_ids", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_import_job_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    op.create_table(
        "export_job",
        *_job_columns(),
        sa.Column("filters", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_export_job_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
    )


def downgrade() -> None:
    op.drop_table("export_job")
    op.drop_table("import_job")
    op.drop_table("ledger_rollup")
    op.drop_table("topic_day")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_topic_id_status_subscriber_id")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_email_prefix")
        batch_op.drop_index("ix_subscriber_source_member_id_id")
        batch_op.create_index(
            batch_op.f("ix_subscriber_source_member_id"), ["source_member_id"], unique=False
        )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_column("actor_account_id")
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.drop_column("status")
