"""consent links: each mailed confirmation link is its own row, bound to its requests

A link confirms exactly the `requested` ledger events carrying its token digest, so
several links can be outstanding at once; the subscriber's single `confirm_nonce`
(which made every new link retire the previous one) goes.

Revision ID: consent_links
Revises: recruiting_hold
Create Date: 2026-11-30 09:36:11.532864
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "consent_links"
down_revision = "recruiting_hold"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "confirmation_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_confirmation_link_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmation_link")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_confirmation_link_token_digest")),
    )
    with op.batch_alter_table("confirmation_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_confirmation_link_subscriber_id"), ["subscriber_id"], unique=False
        )

    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("confirm_nonce")


def downgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_nonce", sa.VARCHAR(length=32), nullable=True))
    with op.batch_alter_table("confirmation_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_confirmation_link_subscriber_id"))
    op.drop_table("confirmation_link")
