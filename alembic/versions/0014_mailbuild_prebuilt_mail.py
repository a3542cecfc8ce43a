"""transactional mail may carry its finished message (test copies of an issue)

Revision ID: mailbuild_prebuilt_mail
Revises: ops_legacy_pepper
"""

import sqlalchemy as sa

from alembic import op

revision = "mailbuild_prebuilt_mail"
down_revision = "ops_legacy_pepper"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transactional_email") as batch:
        batch.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactional_email") as batch:
        batch.drop_column("raw")
