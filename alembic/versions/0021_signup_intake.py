"""intake_request: a signup or login request, recorded the same way for every address
and done by a job (issue 14, "same answer, same time")

Revision ID: signup_intake
Revises: directory_profiles
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "signup_intake"
down_revision = "directory_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("enqueued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_request")),
    )
    with op.batch_alter_table("intake_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_request_enqueued_at"), ["enqueued_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_request_enqueued_at"))
    op.drop_table("intake_request")
