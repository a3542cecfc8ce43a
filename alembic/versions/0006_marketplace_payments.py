"""marketplace and payments: slots, bookings, creatives, click counts, credit ledger, Stripe events

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 01:46:16.885822
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("object_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_stripe_event_event_id")),
    )
    op.create_table(
        "slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("sponsor", "classified", name="slotkind", native_enum=False, length=18),
            nullable=False,
        ),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("creative_deadline", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "withdrawn", name="slotstatus", native_enum=False, length=17),
            nullable=False,
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issue.id"], name=op.f("fk_slot_issue_id_issue"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot")),
        sa.UniqueConstraint("issue_id", "position", name=op.f("uq_slot_issue_id_position")),
    )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_issue_id"), ["issue_id"], unique=False)

    op.create_table(
        "booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "held",
                "awaiting_payment",
                "paid",
                "creative_submitted",
                "approved",
                "rejected",
                "placed",
                "sent",
                "refunded",
                "expired",
                "cancelled",
                name="bookingstatus",
                native_enum=False,
                length=26,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("held_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "stripe", "invoice", "credits", name="paymentmethod", native_enum=False, length=15
            ),
            nullable=True,
        ),
        sa.Column("payment_intent_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("refund_reference", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("paid_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("rejection_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_booking_member_id_member")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slot.id"], name=op.f("fk_booking_slot_id_slot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking")),
        sa.UniqueConstraint("payment_intent_id", name=op.f("uq_booking_payment_intent_id")),
    )
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_booking_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_booking_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_booking_live_slot",
            ["slot_id"],
            unique=True,
            postgresql_where=sa.text(
                "status IN ('held', 'awaiting_payment', 'paid', 'creative_submitted', 'approved', 'placed', 'sent')"
            ),
            sqlite_where=sa.text(
                "status IN ('held', 'awaiting_payment', 'paid', 'creative_submitted', 'approved', 'placed', 'sent')"
            ),
        )

    op.create_table(
        "creative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("headline", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("image_url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("approved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_creative_booking_id_booking")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creative")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_creative_booking_id")),
    )
    op.create_table(
        "credit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["booking.id"], name=op.f("fk_credit_entry_booking_id_booking")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_credit_entry_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entry")),
    )
    with op.batch_alter_table("credit_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_entry_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_credit_entry_member_id"), ["member_id"], unique=False)

    op.create_table(
        "click_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("creative_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creative_id"],
            ["creative.id"],
            name=op.f("fk_click_count_creative_id_creative"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["issue.id"],
            name=op.f("fk_click_count_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_count")),
        sa.UniqueConstraint(
            "creative_id", "issue_id", name=op.f("uq_click_count_creative_id_issue_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("click_count")
    with op.batch_alter_table("credit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_entry_member_id"))
        batch_op.drop_index(batch_op.f("ix_credit_entry_booking_id"))

    op.drop_table("credit_entry")
    op.drop_table("creative")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_booking_live_slot",
            postgresql_where=sa.text(
                "status IN ('held', 'awaiting_payment', 'paid', 'creative_submitted', 'approved', 'placed', 'sent')"
            ),
            sqlite_where=sa.text(
                "status IN ('held', 'awaiting_payment', 'paid', 'creative_submitted', 'approved', 'placed', 'sent')"
            ),
        )
        batch_op.drop_index(batch_op.f("ix_booking_status"))
        batch_op.drop_index(batch_op.f("ix_booking_slot_id"))
        batch_op.drop_index(batch_op.f("ix_booking_member_id"))

    op.drop_table("booking")
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_issue_id"))

    op.drop_table("slot")
    op.drop_table("stripe_event")
