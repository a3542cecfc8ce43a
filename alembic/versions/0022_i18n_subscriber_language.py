"""i18n: a subscriber's language, given by them (the signup page's, or the preference centre)

Revision ID: i18n_subscriber_language
Revises: signup_intake
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "i18n_subscriber_language"
down_revision = "signup_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for people who signed up before the Club spoke more than one language: their
    # mail is in the Club's default language until they choose.
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(
            sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("language")
