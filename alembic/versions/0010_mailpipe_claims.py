"""claim tokens for deliveries and transactional mail, its backoff, the mail pause,
and bounces of transactional mail

Revision ID: mailpipe_claims
Revises: tlog_consent_log
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "mailpipe_claims"
down_revision = "tlog_consent_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    with op.batch_alter_table("transactional_email", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
    with op.batch_alter_table("bounce_report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transactional_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_bounce_report_transactional_id_transactional_email"),
            "transactional_email",
            ["transactional_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "mail_pause",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_mail_pause")),
    )


def downgrade() -> None:
    op.drop_table("mail_pause")
    with op.batch_alter_table("bounce_report", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_bounce_report_transactional_id_transactional_email"), type_="foreignkey"
        )
        batch_op.drop_column("transactional_id")
    with op.batch_alter_table("transactional_email", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
