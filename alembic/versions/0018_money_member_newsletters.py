"""member newsletters by id: a member's mailings newsletter points at its member

Revision ID: money_member_newsletters
Revises: adminui_block_removed_at
"""

import sqlalchemy as sa

from alembic import op

revision = "money_member_newsletters"
down_revision = "adminui_block_removed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("newsletter", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_newsletter_member_id"), ["member_id"])
        batch_op.create_foreign_key(
            op.f("fk_newsletter_member_id_member"), "member", ["member_id"], ["id"]
        )
    # Existing mailings newsletters were found by "member-mailings-<member slug>" (cut to
    # 80 characters): tie each to its member where exactly one member's slug gives it.
    op.execute(
        """
        UPDATE newsletter SET member_id = (
            SELECT member.id FROM member
            WHERE substr('member-mailings-' || member.slug, 1, 80) = newsletter.slug
        )
        WHERE slug LIKE 'member-mailings-%'
          AND (SELECT count(*) FROM member
               WHERE substr('member-mailings-' || member.slug, 1, 80) = newsletter.slug) = 1
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("newsletter", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_newsletter_member_id_member"), type_="foreignkey")
        batch_op.drop_constraint(op.f("uq_newsletter_member_id"), type_="unique")
        batch_op.drop_column("member_id")
