"""recruiting credits wait out a holding period; caps count recipient domains

Revision ID: recruiting_hold
Revises: mailbuild_prebuilt_mail
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "recruiting_hold"
down_revision = "mailbuild_prebuilt_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recruit_credit", schema=None) as batch_op:
        batch_op.alter_column("earned_at", new_column_name="confirmed_at")
        batch_op.alter_column("reversed_at", new_column_name="cancelled_at")
        batch_op.alter_column("reversal_reason", new_column_name="cancel_reason")
        batch_op.add_column(
            sa.Column("domain_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=17), nullable=False, server_default="granted")
        )
        batch_op.add_column(
            sa.Column("matures_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("granted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("credit_entry_id", sa.Integer(), nullable=True))
    # Credits recorded before this revision were granted at once (or reversed since).
    op.execute(
        "UPDATE recruit_credit SET matures_at = confirmed_at, "
        "granted_at = CASE WHEN cancelled_at IS NULL THEN confirmed_at END, "
        "status = CASE WHEN cancelled_at IS NULL THEN 'granted' ELSE 'cancelled' END"
    )
    with op.batch_alter_table("recruit_credit", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
        batch_op.alter_column("matures_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_recruit_credit_credit_entry_id_credit_entry"),
            "credit_entry",
            ["credit_entry_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_recruit_credit_credit_entry_id"), ["credit_entry_id"]
        )
        batch_op.create_index(
            "ix_recruit_credit_status_matures_at", ["status", "matures_at"], unique=False
        )
        batch_op.create_index(
            "ix_recruit_credit_member_id_confirmed_at", ["member_id", "confirmed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recruit_credit", schema=None) as batch_op:
        batch_op.drop_index("ix_recruit_credit_member_id_confirmed_at")
        batch_op.drop_index("ix_recruit_credit_status_matures_at")
        batch_op.drop_constraint(batch_op.f("uq_recruit_credit_credit_entry_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_recruit_credit_credit_entry_id_credit_entry"), type_="foreignkey"
        )
        batch_op.drop_column("credit_entry_id")
        batch_op.drop_column("granted_at")
        batch_op.drop_column("matures_at")
        batch_op.drop_column("status")
        batch_op.drop_column("domain_hmac")
        batch_op.alter_column("cancel_reason", new_column_name="reversal_reason")
        batch_op.alter_column("cancelled_at", new_column_name="reversed_at")
        batch_op.alter_column("confirmed_at", new_column_name="earned_at")
