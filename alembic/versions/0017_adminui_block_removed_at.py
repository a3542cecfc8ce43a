"""issue blocks: removed_at, so a removed block can be put back (undo)

Revision ID: adminui_block_removed_at
Revises: consent_links
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "adminui_block_removed_at"
down_revision = "consent_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issue_block", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("issue_block", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
