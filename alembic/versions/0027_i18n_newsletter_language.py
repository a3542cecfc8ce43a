"""i18n: a newsletter has a language (its issues' chrome, its place in the archive)

Revision ID: i18n_newsletter_language
Revises: directory_suggestions
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "i18n_newsletter_language"
down_revision = "directory_suggestions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "newsletter",
        sa.Column(
            "language",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="en",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("newsletter") as batch:
        batch.drop_column("language")
