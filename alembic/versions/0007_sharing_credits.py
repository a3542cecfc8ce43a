"""sharing and recruiting credits

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 02:05:23.810532
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recruit_credit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("earned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reversed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reversal_reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_recruit_credit_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recruit_credit")),
        sa.UniqueConstraint("address_hmac", name=op.f("uq_recruit_credit_address_hmac")),
    )
    with op.batch_alter_table("recruit_credit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recruit_credit_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "member_mailing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "approved",
                "rejected",
                name="mailingstatus",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("review_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issue.id"], name=op.f("fk_member_mailing_issue_id_issue")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_mailing_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_mailing")),
        sa.UniqueConstraint("issue_id", name=op.f("uq_member_mailing_issue_id")),
    )
    with op.batch_alter_table("member_mailing", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_mailing_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "recruiting_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by"],
            ["account.id"],
            name=op.f("fk_recruiting_rate_set_by_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recruiting_rate")),
    )
    op.create_table(
        "sharing_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offering_member_id", sa.Integer(), nullable=False),
        sa.Column("receiving_member_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column(
            "purpose_category",
            sa.Enum(
                "offers",
                "events",
                "campaigns",
                "news",
                name="purposecategory",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "offered", "active", "revoked", name="agreementstatus", native_enum=False, length=15
            ),
            nullable=False,
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("accepted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["offering_member_id"],
            ["member.id"],
            name=op.f("fk_sharing_agreement_offering_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["receiving_member_id"],
            ["member.id"],
            name=op.f("fk_sharing_agreement_receiving_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_sharing_agreement_topic_id_topic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_agreement")),
    )
    with op.batch_alter_table("sharing_agreement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_agreement_offering_member_id"),
            ["offering_member_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sharing_agreement_receiving_member_id"),
            ["receiving_member_id"],
            unique=False,
        )

    op.create_table(
        "sharing_withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_sharing_withdrawal_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_sharing_withdrawal_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_withdrawal")),
        sa.UniqueConstraint(
            "subscriber_id", "member_id", name=op.f("uq_sharing_withdrawal_subscriber_id_member_id")
        ),
    )
    with op.batch_alter_table("sharing_withdrawal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_withdrawal_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "sharing_agreement_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_sharing_agreement_event_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["sharing_agreement.id"],
            name=op.f("fk_sharing_agreement_event_agreement_id_sharing_agreement"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_sharing_agreement_event_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_agreement_event")),
    )
    with op.batch_alter_table("sharing_agreement_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sharing_agreement_event_agreement_id"), ["agreement_id"], unique=False
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("sharing_agreement_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_event_agreement_id"))

    op.drop_table("sharing_agreement_event")
    with op.batch_alter_table("sharing_withdrawal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_withdrawal_member_id"))

    op.drop_table("sharing_withdrawal")
    with op.batch_alter_table("sharing_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_receiving_member_id"))
        batch_op.drop_index(batch_op.f("ix_sharing_agreement_offering_member_id"))

    op.drop_table("sharing_agreement")
    op.drop_table("recruiting_rate")
    with op.batch_alter_table("member_mailing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_mailing_member_id"))

    op.drop_table("member_mailing")
    with op.batch_alter_table("recruit_credit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recruit_credit_member_id"))

    op.drop_table("recruit_credit")
    # ### end Alembic commands ###
