"""i18n: each consent text says the language its words are in

Revision ID: i18n_consent_text_language
Revises: directory_name_order
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "i18n_consent_text_language"
down_revision = "directory_name_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every version so far was English. A plain ADD COLUMN with a default: no row is
    # rewritten, so the append-only trigger on consent_text (0003) is not involved.
    op.add_column(
        "consent_text",
        sa.Column(
            "language",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="en",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("consent_text") as batch:
        batch.drop_column("language")
