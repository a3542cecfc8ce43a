"""directory name order: an index on (lower(name), id) for the directory's A-to-Z order
and its keyset pages (found by the directory search bench: a cursor page sorted every
active member)

Revision ID: directory_name_order
Revises: lead_intake_attempts
"""

from alembic import op

revision = "directory_name_order"
down_revision = "lead_intake_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_member_name_order ON member (lower(name), id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_member_name_order")
