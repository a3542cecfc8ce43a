"""directory suggestions: corrections anyone sends to a member's listing, which its
owners accept or dismiss

Revision ID: directory_suggestions
Revises: i18n_consent_text_language
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "directory_suggestions"
down_revision = "i18n_consent_text_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listingsuggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("from_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "accepted",
                "dismissed",
                name="suggestionstatus",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["account.id"], name=op.f("fk_listingsuggestion_decided_by_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_listingsuggestion_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listingsuggestion")),
    )
    with op.batch_alter_table("listingsuggestion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listingsuggestion_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("listingsuggestion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listingsuggestion_member_id"))
    op.drop_table("listingsuggestion")
