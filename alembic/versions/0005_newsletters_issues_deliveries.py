"""newsletters, issues, deliveries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 01:39:27.175769
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "newsletter",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("sender_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("sender_address", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("reply_to", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("template", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("sponsor_slots", sa.Integer(), nullable=False),
        sa.Column("sponsor_price", sa.Integer(), nullable=False),
        sa.Column("classified_slots", sa.Integer(), nullable=False),
        sa.Column("classified_price", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newsletter")),
        sa.UniqueConstraint("slug", name=op.f("uq_newsletter_slug")),
    )
    op.create_table(
        "issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newsletter_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("preheader", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "scheduled",
                "sending",
                "paused",
                "sent",
                "cancelled",
                name="issuestatus",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("compiled_html", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("compiled_text", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("frozen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("send_started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("assembled_upto", sa.Integer(), nullable=True),
        sa.Column("assembly_done", sa.Boolean(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("failure_streak", sa.Integer(), nullable=False),
        sa.Column("paused_by", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("pause_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["newsletter_id"], ["newsletter.id"], name=op.f("fk_issue_newsletter_id_newsletter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue")),
        sa.UniqueConstraint("newsletter_id", "number", name=op.f("uq_issue_newsletter_id_number")),
    )
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_newsletter_id"), ["newsletter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issue_status"), ["status"], unique=False)

    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "failed",
                "bounced",
                "complained",
                "skipped",
                "cancelled",
                name="deliverystatus",
                native_enum=False,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issue.id"], name=op.f("fk_delivery_issue_id_issue")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_delivery_subscriber_id_subscriber"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint(
            "issue_id", "subscriber_id", name=op.f("uq_delivery_issue_id_subscriber_id")
        ),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_issue_id_batch", ["issue_id", "batch"], unique=False)
        batch_op.create_index("ix_delivery_issue_id_status", ["issue_id", "status"], unique=False)

    op.create_table(
        "issue_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "text",
                "image",
                "button",
                "sponsor",
                "classified",
                name="blockkind",
                native_enum=False,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("heading", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=20000), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("alt", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_issue_block_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_block")),
    )
    with op.batch_alter_table("issue_block", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_block_issue_id"), ["issue_id"], unique=False)

    op.create_table(
        "newsletter_topic",
        sa.Column("newsletter_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["newsletter_id"],
            ["newsletter.id"],
            name=op.f("fk_newsletter_topic_newsletter_id_newsletter"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topic.id"],
            name=op.f("fk_newsletter_topic_topic_id_topic"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("newsletter_id", "topic_id", name=op.f("pk_newsletter_topic")),
    )
    op.create_table(
        "bounce_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("status_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("raw", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name=op.f("fk_bounce_report_delivery_id_delivery"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_report")),
    )


def downgrade() -> None:
    op.drop_table("bounce_report")
    op.drop_table("newsletter_topic")
    with op.batch_alter_table("issue_block", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_block_issue_id"))

    op.drop_table("issue_block")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_issue_id_status")
        batch_op.drop_index("ix_delivery_issue_id_batch")

    op.drop_table("delivery")
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_status"))
        batch_op.drop_index(batch_op.f("ix_issue_newsletter_id"))

    op.drop_table("issue")
    op.drop_table("newsletter")
