"""The public directory: search, filters, sorting and keyset pages over active members.

Only what a member publishes can be found: the search looks in `Member.search_text`,
which holds the published fields only (kept here on every insert and update), and a
filter on a field matches only members that show that field.

Search text is always literal. Each word of `q` must be found: on PostgreSQL a plain
word is a full-text prefix match (`to_tsvector('simple', search_text)`, GIN-indexed);
any other piece of text, and every word on SQLite, is a substring match with `%`, `_`
and the escape character escaped, so they match themselves.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, literal_column, or_, tuple_
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.members import codes
from app.members.codes import N_
from app.members.models import Member, MemberStatus, unpack

PAGE_SIZE = 24
MAX_LIMIT = 100
MAX_QUERY_CHARACTERS = 200
MAX_WORDS = 8
SORTS = {"name": N_("Name (A to Z)"), "newest": N_("Newest members first")}
# Expression indexes made by hand in migration 0020 (the full-text one on PostgreSQL
# only: SQLite has no full-text type), which the model-migration comparison and
# autogenerate leave alone (alembic/env.py).
HAND_MADE_INDEXES = frozenset({"ix_member_search", "ix_member_name_order"})
PLAIN_WORD = re.compile(r"^[^\W_]+$")
SIMPLE = literal_column("'simple'::regconfig")


class DirectoryQueryError(ValueError):
    """A filter, sort or cursor that makes no sense; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def public_text(member: Member) -> str:
    """What a search may find this member by: its name and its published fields."""
    parts: list[str | None] = [member.name]
    if member.show_description:
        parts.append(member.description)
    if member.show_offer:
        parts.append(member.offer)
    if member.show_city:
        parts.append(member.city)
    if member.show_kind and member.kind:
        parts.append(codes.KINDS.get(member.kind, member.kind))
    if member.show_sectors:
        parts.extend(codes.SECTORS.get(s, s) for s in unpack(member.sectors))
    if member.show_country:
        parts.append(codes.country_name(member.country))
    if member.show_region:
        parts.append(codes.region_name(member.region))
    return " ".join(p for p in parts if p).casefold()


@dataclass
class DirectoryQuery:
    q: str = ""
    kind: str = ""
    sector: str = ""
    country: str = ""
    region: str = ""
    language: str = ""
    sort: str = "name"
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, **raw: str | None) -> DirectoryQuery:
        """Checked and normalised; every problem is in `problems`, by parameter."""
        query = cls(**{k: (v or "").strip() for k, v in raw.items()})
        if len(query.q) > MAX_QUERY_CHARACTERS:
            query.problems["q"] = _(
                "Keep the search to %(max)s characters.", max=MAX_QUERY_CHARACTERS
            )
        if query.kind and query.kind not in codes.KINDS:
            query.problems["kind"] = _(
                "Unknown kind of co-op: use a code listed at /members/codes."
            )
        if query.sector and query.sector not in codes.SECTORS:
            query.problems["sector"] = _("Unknown sector: use a code listed at /members/codes.")
        for name, parse in (
            ("country", codes.parse_country),
            ("language", codes.parse_language),
        ):
            value = getattr(query, name)
            if value:
                try:
                    setattr(query, name, parse(value))
                except ValueError as exc:
                    query.problems[name] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
        if query.region:
            country = query.country or query.region.split("-", 1)[0].upper()
            try:
                query.region = codes.parse_region(query.region, country)
            except ValueError:
                query.problems["region"] = _("Unknown region: use an ISO 3166-2 code, e.g. CA-QC.")
        if query.sort not in SORTS:
            query.problems["sort"] = _("Sort by one of: %(sorts)s.", sorts=", ".join(SORTS))
        return query

    @property
    def searching(self) -> bool:
        return any((self.q, self.kind, self.sector, self.country, self.region, self.language))

    def params(self, **override: str) -> dict[str, str]:
        """The query as URL parameters (empty ones left out), for links."""
        values = {
            "q": self.q,
            "kind": self.kind,
            "sector": self.sector,
            "country": self.country,
            "region": self.region,
            "language": self.language,
            "sort": "" if self.sort == "name" else self.sort,
        } | override
        return {k: v for k, v in values.items() if v}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_matches(word: str, *, postgres: bool):  # type: ignore[no-untyped-def]
    folded = word.casefold()
    if postgres and PLAIN_WORD.match(folded):
        # Letters and digits only, so `:*` is the only tsquery syntax in it.
        return func.to_tsvector(SIMPLE, Member.search_text).op("@@")(
            func.to_tsquery(SIMPLE, folded + ":*")
        )
    return col(Member.search_text).like(f"%{_escape_like(folded)}%", escape="\\")


def _filtered(session: Session, query: DirectoryQuery):  # type: ignore[no-untyped-def]
    postgres = session.get_bind().dialect.name == "postgresql"
    conditions = [Member.status == MemberStatus.active]
    for word in query.q.split()[:MAX_WORDS]:
        conditions.append(_word_matches(word, postgres=postgres))
    if query.kind:
        conditions += [col(Member.show_kind), Member.kind == query.kind]
    if query.sector:
        conditions += [col(Member.show_sectors), col(Member.sectors).contains(f",{query.sector},")]
    if query.country:
        conditions += [col(Member.show_country), Member.country == query.country]
    if query.region:
        conditions += [col(Member.show_region), Member.region == query.region]
    if query.language:
        # "fr" finds fr, fr-CA, fr-BE; "fr-CA" finds only fr-CA. Tags hold no wildcard.
        conditions += [
            col(Member.show_languages),
            or_(
                col(Member.languages).contains(f",{query.language},"),
                col(Member.languages).contains(f",{query.language}-"),
            ),
        ]
    return and_(*conditions)


# Keyset pages ------------------------------------------------------------------------


def _sort_key(member: Member, sort: str) -> list[object]:
    return [member.name.lower(), member.id] if sort == "name" else [member.id]


def encode_cursor(sort: str, key: list[object]) -> str:
    raw = json.dumps([sort, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[object]:
    problem = DirectoryQueryError(
        "cursor", _("This cursor is not one the directory gave out (or it is for another sort).")
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise problem from None
    shapes = {"name": [str, int], "newest": [int]}
    if (
        not isinstance(value, list)
        or not value
        or value[0] != sort
        or [type(v) for v in value[1:]] != shapes[sort]
    ):
        raise problem
    return value[1:]


def page(
    session: Session, query: DirectoryQuery, *, limit: int = PAGE_SIZE, cursor: str | None = None
) -> tuple[Sequence[Member], str | None]:
    """One page of the directory and the cursor of the next (None on the last page).
    Keyset, not OFFSET: members joining meanwhile never make a page repeat or skip one."""
    if query.problems:
        field, message = next(iter(query.problems.items()))
        raise DirectoryQueryError(field, message)
    statement = select(Member).where(_filtered(session, query))
    lowered = func.lower(Member.name)
    if query.sort == "name":
        statement = statement.order_by(lowered, Member.id)
    else:
        statement = statement.order_by(col(Member.id).desc())
    if cursor:
        key = decode_cursor(cursor, query.sort)
        if query.sort == "name":
            name, last_id = key
            # A row comparison, which the (lower(name), id) index serves.
            statement = statement.where(tuple_(lowered, Member.id) > tuple_(name, last_id))
        else:
            statement = statement.where(col(Member.id) < key[0])
    rows = session.exec(statement.limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(query.sort, _sort_key(rows[-1], query.sort))


def everything(session: Session, query: DirectoryQuery) -> Sequence[Member]:
    """Every matching member, by name (the bulk exports)."""
    return session.exec(
        select(Member).where(_filtered(session, query)).order_by(func.lower(Member.name), Member.id)
    ).all()


def fingerprint(session: Session, query: DirectoryQuery) -> tuple[int, str, int]:
    """(count, newest change, highest id) of what `query` matches: an export's version."""
    count, newest, highest = session.exec(
        select(func.count(), func.max(Member.updated_at), func.max(Member.id)).where(
            _filtered(session, query)
        )
    ).one()
    return int(count), str(newest or ""), int(highest or 0)


def facets(session: Session, query: DirectoryQuery) -> dict[str, list[tuple[str, str]]]:
    """The choices for the directory's filters: (code, label), published values only."""
    active = Member.status == MemberStatus.active
    country_codes = session.exec(
        select(Member.country)
        .where(active, col(Member.show_country), col(Member.country).is_not(None))
        .distinct()
    ).all()
    region_filter = [active, col(Member.show_region), col(Member.region).is_not(None)]
    if query.country:
        region_filter.append(col(Member.region).startswith(query.country + "-"))
    region_codes = session.exec(select(Member.region).where(*region_filter).distinct()).all()
    stored_languages = session.exec(
        select(Member.languages)
        .where(active, col(Member.show_languages), col(Member.languages).is_not(None))
        .distinct()
    ).all()
    languages = {tag.split("-", 1)[0] for stored in stored_languages for tag in unpack(stored)}
    named = [(c, codes.country_label(c)) for c in country_codes if c]
    regions = [(r, codes.region_label(r)) for r in region_codes if r]
    return {
        "kinds": list(codes.kind_names().items()),
        "sectors": list(codes.sector_names().items()),
        "countries": sorted(named, key=lambda pair: codes.fold(pair[1])),
        "regions": sorted(regions, key=lambda pair: codes.fold(pair[1])),
        "languages": sorted(
            ((tag, codes.language_label(tag)) for tag in languages),
            key=lambda pair: codes.fold(pair[1]),
        ),
        "sorts": [(code, _(label)) for code, label in SORTS.items()],
    }
