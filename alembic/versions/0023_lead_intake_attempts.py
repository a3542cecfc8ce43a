"""intake_request counts its tries and keeps the kind of the last failure, so a request
that always fails is given up instead of looping

Revision ID: lead_intake_attempts
Revises: i18n_subscriber_language
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "lead_intake_attempts"
down_revision = "i18n_subscriber_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table("intake_request", schema=None) as batch_op:
        batch_op.alter_column("attempts", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("intake_request", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("attempts")
