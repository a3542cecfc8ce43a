"""pending applications: an application to join waits for its owner address to be
confirmed (double opt-in) before any member or account is made

Revision ID: pending_applications
Revises: i18n_newsletter_language
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "pending_applications"
down_revision = "i18n_newsletter_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_application")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_pending_application_nonce_hash")),
    )
    with op.batch_alter_table("pending_application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_application_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_application_expires_at"))
    op.drop_table("pending_application")
