"""ops: legacy suppression peppers, sealed under COOPCLUB_SUPPRESSION_PEPPER

Revision ID: ops_legacy_pepper
Revises: tlog_sqlite_append_only
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "ops_legacy_pepper"
down_revision = "tlog_sqlite_append_only"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legacy_pepper",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sealed", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legacy_pepper")),
        sa.UniqueConstraint("digest", name=op.f("uq_legacy_pepper_digest")),
    )


def downgrade() -> None:
    op.drop_table("legacy_pepper")
