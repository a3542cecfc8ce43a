"""subscriptions and consent ledger: topics, subscribers, suppressions, consent texts and events

On PostgreSQL a trigger makes consent_event and consent_text append-only (UPDATE and
DELETE are refused). TRUNCATE, an owner-level operation, is not covered.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 01:23:40.046280
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("consent_event", "consent_text")
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION coopclub_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "consent_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "topic", "sharing", "sponsored", name="consentscope", native_enum=False, length=17
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_text")),
        sa.UniqueConstraint("scope", "version", name=op.f("uq_consent_text_scope_version")),
    )
    op.create_table(
        "suppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
        sa.UniqueConstraint("address_hmac", name=op.f("uq_suppression_address_hmac")),
    )
    op.create_table(
        "subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("address_hmac", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("source_member_id", sa.Integer(), nullable=True),
        sa.Column("confirm_nonce", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_member_id"], ["member.id"], name=op.f("fk_subscriber_source_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber")),
        sa.UniqueConstraint("email", name=op.f("uq_subscriber_email")),
        sa.UniqueConstraint("key", name=op.f("uq_subscriber_key")),
    )
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriber_address_hmac"), ["address_hmac"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subscriber_source_member_id"), ["source_member_id"], unique=False
        )

    op.create_table(
        "topic",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_topic_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic")),
    )
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_topic_slug"), ["slug"], unique=True)

    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("subscriber_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "topic", "sharing", "sponsored", name="consentscope", native_enum=False, length=17
            ),
            nullable=False,
        ),
        sa.Column(
            "action",
            sa.Enum(
                "requested",
                "confirmed",
                "withdrawn",
                "erased",
                name="consentaction",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "form", "embed", "api", "import", name="consentsource", native_enum=False, length=14
            ),
            nullable=False,
        ),
        sa.Column("consent_text_id", sa.Integer(), nullable=True),
        sa.Column("token_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("occurred_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_text_id"],
            ["consent_text.id"],
            name=op.f("fk_consent_event_consent_text_id_consent_text"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_consent_event_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_consent_event_topic_id_topic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_consent_event_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_consent_event_prev_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_consent_event_seq")),
    )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_event_subscriber_key"), ["subscriber_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_consent_event_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "unsubscribed",
                name="subscriptionstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "sharing",
            sa.Enum(
                "pending",
                "active",
                "unsubscribed",
                name="subscriptionstatus",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscription_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_subscription_topic_id_topic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
        sa.UniqueConstraint(
            "subscriber_id", "topic_id", name=op.f("uq_subscription_subscriber_id_topic_id")
        ),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_subscription_subscriber_id"), ["subscriber_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subscription_topic_id"), ["topic_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION coopclub_refuse_change()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS coopclub_refuse_change()")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_topic_id"))
        batch_op.drop_index(batch_op.f("ix_subscription_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_subscription_status"))

    op.drop_table("subscription")
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_event_topic_id"))
        batch_op.drop_index(batch_op.f("ix_consent_event_subscriber_key"))

    op.drop_table("consent_event")
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_slug"))
        batch_op.drop_index(batch_op.f("ix_topic_member_id"))

    op.drop_table("topic")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_source_member_id"))
        batch_op.drop_index(batch_op.f("ix_subscriber_address_hmac"))

    op.drop_table("subscriber")
    op.drop_table("suppression")
    op.drop_table("consent_text")
