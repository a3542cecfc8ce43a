"""members and auth: login-link nonces, account sessions, member API keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 01:24:17.229770
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_account_session_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_session_token_hash")),
    )
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_session_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_session_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "api_key",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["account.id"], name=op.f("fk_api_key_created_by_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_api_key_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_key_secret_hash")),
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_member_id"), ["member_id"], unique=False)

    op.create_table(
        "login_nonce",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_login_nonce_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_nonce")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_login_nonce_nonce_hash")),
    )
    with op.batch_alter_table("login_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_nonce_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_nonce_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_nonce_expires_at"))
        batch_op.drop_index(batch_op.f("ix_login_nonce_account_id"))

    op.drop_table("login_nonce")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_member_id"))

    op.drop_table("api_key")
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_account_session_account_id"))

    op.drop_table("account_session")
