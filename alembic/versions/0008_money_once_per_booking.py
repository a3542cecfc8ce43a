"""money once per booking: at most one credit spend and one credit refund per booking

Revision ID: money_once_per_booking
Revises: 0007
"""

import sqlalchemy as sa

from alembic import op

revision = "money_once_per_booking"
down_revision = "0007"
branch_labels = None
depends_on = None

SPEND = "booking_id IS NOT NULL AND amount < 0"
REFUND = "booking_id IS NOT NULL AND amount > 0"


def upgrade() -> None:
    with op.batch_alter_table("credit_entry", schema=None) as batch_op:
        for name, where in (
            ("uq_credit_entry_booking_spend", SPEND),
            ("uq_credit_entry_booking_refund", REFUND),
        ):
            batch_op.create_index(
                name,
                ["booking_id"],
                unique=True,
                postgresql_where=sa.text(where),
                sqlite_where=sa.text(where),
            )


def downgrade() -> None:
    with op.batch_alter_table("credit_entry", schema=None) as batch_op:
        batch_op.drop_index("uq_credit_entry_booking_refund")
        batch_op.drop_index("uq_credit_entry_booking_spend")
