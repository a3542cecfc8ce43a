"""directory profiles: coded kind, sectors, ISO 3166 country and region, city, contact,
year founded, languages, offer (each hidden until shown), search text, change log

Existing free-text kinds become codes where they name one (anything else: "other");
existing region names become ISO 3166-2 codes (with their country) where exactly one
subdivision has that name, and are cleared otherwise.

Revision ID: directory_profiles
Revises: money_invitations
"""

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision = "directory_profiles"
down_revision = "money_invitations"
branch_labels = None
depends_on = None

NEW_SWITCHES = (
    "show_country",
    "show_city",
    "show_contact",
    "show_founded",
    "show_languages",
    "show_offer",
    "show_sectors",
)
KIND_WORDS = {
    "worker": "worker",
    "consumer": "consumer",
    "food": "consumer",
    "grocery": "consumer",
    "producer": "producer",
    "agricultur": "producer",
    "housing": "housing",
    "multi": "multi-stakeholder",
    "solidarity": "multi-stakeholder",
    "credit union": "credit-union",
    "credit": "credit-union",
    "platform": "platform",
    "federation": "federation",
}


def _kind_code(text: str | None) -> str | None:
    if not text:
        return None
    folded = text.casefold()
    return next((code for word, code in KIND_WORDS.items() if word in folded), "other")


def _region_code(text: str | None) -> str | None:
    import pycountry

    if not text:
        return None
    found = [s for s in pycountry.subdivisions if s.name.casefold() == text.strip().casefold()]
    return found[0].code if len(found) == 1 else None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2)))
        batch_op.add_column(sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=120)))
        batch_op.add_column(
            sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=320))
        )
        batch_op.add_column(sa.Column("founded_year", sa.Integer()))
        batch_op.add_column(sa.Column("languages", sqlmodel.sql.sqltypes.AutoString(length=400)))
        batch_op.add_column(sa.Column("offer", sqlmodel.sql.sqltypes.AutoString(length=500)))
        batch_op.add_column(sa.Column("sectors", sqlmodel.sql.sqltypes.AutoString(length=200)))
        for switch in NEW_SWITCHES:
            batch_op.add_column(
                sa.Column(switch, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        batch_op.add_column(sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime()))
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))

    member = sa.table(
        "member",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("region", sa.String()),
        sa.column("country", sa.String()),
        sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(member.c.id, member.c.kind, member.c.region)).all():
        region = _region_code(row.region)
        connection.execute(
            member.update()
            .where(member.c.id == row.id)
            .values(
                kind=_kind_code(row.kind),
                region=region,
                country=region.split("-", 1)[0] if region else None,
            )
        )
    connection.execute(member.update().values(updated_at=member.c.created_at))
    # The search text is the published fields, written by the app on the next save;
    # until then a member is found by its name.
    connection.execute(sa.text("UPDATE member SET search_text = lower(name)"))
    if connection.dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_member_search ON member "
            "USING gin (to_tsvector('simple'::regconfig, search_text))"
        )

    op.create_table(
        "directorychange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("old_value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("new_value", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_directorychange_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_directorychange_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directorychange")),
    )
    with op.batch_alter_table("directorychange", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directorychange_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("directorychange", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directorychange_member_id"))
    op.drop_table("directorychange")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_member_search")
    with op.batch_alter_table("member", schema=None) as batch_op:
        for column in (
            "search_text",
            "updated_at",
            *reversed(NEW_SWITCHES),
            "sectors",
            "offer",
            "languages",
            "founded_year",
            "contact_email",
            "city",
            "country",
        ):
            batch_op.drop_column(column)
