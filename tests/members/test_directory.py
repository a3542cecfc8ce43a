"""The public directory: search (always literal), filters, sorting and keyset pages, in
HTML and in `GET /api/v1/members`."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlmodel import select

from app.db import session_scope
from app.members.models import Member, MemberStatus
from tests.conftest import ON_POSTGRES
from tests.members.factories import make_member

ALL_SHOWN = dict(
    show_country=True,
    show_city=True,
    show_languages=True,
    show_sectors=True,
    show_offer=True,
    show_founded=True,
    show_contact=True,
)


def seed():
    make_member(
        "riverside-food",
        name="Riverside Food Co-op",
        kind="consumer",
        country="CA",
        region="CA-ON",
        city="Toronto",
        sectors=",food,retail,",
        languages=",en,fr-CA,",
        website="https://riverside.example.org",
        description="Groceries since 1978.",
        **ALL_SHOWN,
    )
    make_member(
        "maple-housing",
        name="Maple Street Housing",
        kind="housing",
        country="CA",
        region="CA-BC",
        website="https://maple.example.org",
        description="Ninety homes near the harbour.",
        languages=",en,",
        show_website=False,
        show_region=False,
        show_description=False,
    )
    make_member(
        "harbour-bakery",
        name="Harbour Bakery Workers",
        kind="worker",
        country="CA",
        region="CA-QC",
        sectors=",food,",
        languages=",fr,",
        **ALL_SHOWN,
    )
    make_member("waiting", name="Waiting Co-op", status=MemberStatus.applied)
    make_member("paused", name="Paused Co-op", status=MemberStatus.suspended)


def slugs(client, **params) -> list[str]:
    response = client.get("/api/v1/members", params=params)
    assert response.status_code == 200, response.text
    return [m["slug"] for m in response.json()["items"]]


def test_the_json_answer_is_a_page_of_published_fields_of_active_members(client):
    seed()
    response = client.get("/api/v1/members")
    body = response.json()
    assert set(body) == {"items", "next_cursor", "license"} and body["next_cursor"] is None
    assert [m["slug"] for m in body["items"]] == [
        "harbour-bakery",
        "maple-housing",
        "riverside-food",
    ]
    maple = body["items"][1]
    assert maple["kind"] == "housing"
    assert maple["website"] is None and maple["region"] is None and maple["description"] is None
    assert maple["languages"] is None  # new fields start hidden
    assert body["items"][2]["languages"] == ["en", "fr-CA"]
    assert 'rel="license"' in response.headers["link"]


def test_filters_use_codes_and_match_only_published_fields(client):
    seed()
    assert slugs(client, kind="worker") == ["harbour-bakery"]
    assert slugs(client, sector="food") == ["harbour-bakery", "riverside-food"]
    assert slugs(client, country="ca") == ["harbour-bakery", "riverside-food"]  # Maple hides it
    assert slugs(client, region="CA-QC") == ["harbour-bakery"]
    assert slugs(client, region="CA-BC") == []  # Maple is in BC but does not publish it
    assert slugs(client, language="fr") == ["harbour-bakery", "riverside-food"]  # fr and fr-CA
    assert slugs(client, language="fr-CA") == ["riverside-food"]
    assert slugs(client, language="en") == ["riverside-food"]  # Maple's languages are hidden
    assert slugs(client, kind="worker", region="CA-ON") == []
    make_member("zebra", name="Zebra Couriers")
    assert slugs(client) == ["harbour-bakery", "maple-housing", "riverside-food", "zebra"]
    assert slugs(client, sort="newest") == [
        "zebra",
        "harbour-bakery",
        "maple-housing",
        "riverside-food",
    ]


def test_search_finds_words_in_published_fields_only(client):
    seed()
    assert slugs(client, q="since 1978") == ["riverside-food"]
    assert slugs(client, q="groceries") == ["harbour-bakery", "riverside-food"]  # a sector
    assert slugs(client, q="harbour") == ["harbour-bakery"]  # not Maple's hidden description
    assert slugs(client, q="ninety") == []
    assert slugs(client, q="toronto") == ["riverside-food"]  # a published city
    assert slugs(client, q="Ontario") == ["riverside-food"]  # a published region, by name
    assert slugs(client, q="maple street") == ["maple-housing"]
    assert slugs(client, q="housing co-op") == ["maple-housing"]  # the kind's label


def test_search_text_is_literal_percent_and_underscore_match_themselves(client):
    make_member("organic", name="100% Organic Farms")
    make_member("good-food", name="Good_Food Collective")
    make_member("goodxfood", name="Goodxfood Collective")
    make_member("back", name="Back\\slash Printers")
    assert slugs(client, q="%") == ["organic"]
    assert slugs(client, q="_") == ["good-food"]
    assert slugs(client, q="good_f") == ["good-food"]
    assert slugs(client, q="100%") == ["organic"]
    assert slugs(client, q="\\") == ["back"]
    assert slugs(client, q="%%%") == []
    assert slugs(client, q="collective") == ["good-food", "goodxfood"]


def test_bad_filters_cursors_and_limits_are_clear_4xx(client):
    seed()
    for params, word in [
        ({"kind": "banana"}, "kind"),
        ({"sector": "'; drop"}, "sector"),
        ({"country": "XX"}, "country"),
        ({"region": "CA-ZZ"}, "region"),
        ({"language": "klingon!"}, "language"),
        ({"sort": "random"}, "Sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]:
        response = client.get("/api/v1/members", params=params)
        assert response.status_code == 400, params
        assert word in response.json()["detail"], response.json()
    assert client.get("/api/v1/members", params={"limit": 101}).status_code == 422
    assert client.get("/api/v1/members", params={"limit": 0}).status_code == 422
    page = client.get("/members", params={"country": "XX"})
    assert page.status_code == 400 and 'id="search-problems"' in page.text
    # a cursor for another sort is refused, not misread
    first = client.get("/api/v1/members", params={"limit": 1}).json()
    other = client.get("/api/v1/members", params={"sort": "newest", "cursor": first["next_cursor"]})
    assert other.status_code == 400


def _bulk(count: int, prefix: str, start: int = 0) -> None:
    with session_scope() as session:
        session.add_all(
            Member(
                slug=f"{prefix}-{i:05d}",
                name=f"{prefix.title()} {(i * 7919) % count:05d} Co-op",
                status=MemberStatus.active,
                kind="worker" if i % 3 == 0 else "consumer",
                show_kind=True,
            )
            for i in range(start, start + count)
        )


def _walk(client, **params) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        body = client.get(
            "/api/v1/members", params={**params, "limit": 100, "cursor": cursor}
        ).json()
        seen += [m["slug"] for m in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_keyset_pages_over_10000_members_have_no_duplicates_or_gaps_under_inserts(client):
    _bulk(10_000, "alpha")
    with session_scope() as session:
        everyone = set(session.exec(select(Member.slug)).all())
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        body = client.get("/api/v1/members", params={"limit": 100, "cursor": cursor}).json()
        seen += [m["slug"] for m in body["items"]]
        cursor = body["next_cursor"]
        pages += 1
        if pages == 5:
            # Members join while someone pages: names before and after the current page.
            make_member("aaa-early", name="Aaa Early Co-op")
            make_member("zzz-late", name="Zzz Late Co-op")
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a member appeared twice"
    assert everyone <= set(seen), "a member present from the start was skipped"
    assert "zzz-late" in seen and "aaa-early" not in seen  # behind the cursor: next walk
    assert pages == 101
    workers = _walk(client, kind="worker", sort="newest")
    assert len(workers) == len(set(workers)) == 3334
    assert workers[0] == "alpha-09999" and workers[-1] == "alpha-00000"

    # Searching pages the same way, over the same members: a full-text word (the kind's
    # label), then a word with a filter; each walk is exactly the matching members, in
    # the walk's order, each once.
    with session_scope() as session:
        members = session.exec(select(Member)).all()
    by_name = sorted(members, key=lambda m: (m.name.lower(), m.id))
    found = _walk(client, q="Worker")
    assert len(found) == 3334 and found == [m.slug for m in by_name if m.kind == "worker"]

    def number_matches(member: Member) -> bool:
        # A plain word is a prefix of a word on PostgreSQL, a substring on SQLite.
        number = member.name.split()[1]
        return number.startswith("01") if ON_POSTGRES else "01" in number

    matching = [m for m in by_name if m.kind == "consumer" and m.slug.startswith("alpha-")]
    matching = [m for m in matching if number_matches(m)]
    assert 100 < len(matching) < 2000
    found = _walk(client, q="alpha 01", kind="consumer")
    assert found == [m.slug for m in matching]
    newest = _walk(client, q="alpha 01", kind="consumer", sort="newest")
    assert newest == [m.slug for m in sorted(matching, key=lambda m: -m.id)]
    # Wildcards are literal at this size too: no name holds them, so nothing is found.
    for literal in ("%", "_", "%%", "alpha%"):
        assert _walk(client, q=literal) == [], literal


def test_the_html_directory_searches_filters_pages_and_has_empty_states(client):
    empty = client.get("/members")
    assert "No member co-ops are listed yet" in empty.text
    seed()
    page = client.get("/members", params={"kind": "housing"})
    assert "Maple Street Housing" in page.text and "Riverside Food" not in page.text
    assert "maple.example.org" not in page.text
    assert "Waiting Co-op" not in client.get("/members").text
    assert "No member co-op matches" in client.get("/members", params={"q": "zzz"}).text
    _bulk(30, "bulk")
    first = client.get("/members")
    assert "Next page" in first.text and "First page" not in first.text
    href = first.text.split('class="button secondary" href="', 1)[1].split('"', 1)[0]
    second = client.get(href.replace("&amp;", "&"))
    assert second.status_code == 200 and "First page" in second.text
    assert "Licen" in first.text and "opendatacommons.org/licenses/odbl" in first.text


def test_csv_has_the_same_rows_and_cells_cannot_run_as_formulas(client):
    seed()
    make_member("formula", name="=HYPERLINK(1)")
    response = client.get("/api/v1/members.csv", params={"country": "CA"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["slug"] for r in rows] == ["harbour-bakery", "riverside-food"]
    assert rows[1]["languages"] == "en fr-CA" and rows[1]["sectors"] == "food retail"
    everything = list(csv.DictReader(io.StringIO(client.get("/api/v1/members.csv").text)))
    assert everything[0]["name"] == "'=HYPERLINK(1)"


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL full-text search")
def test_on_postgresql_a_word_search_uses_the_full_text_index(client):
    from app.members.directory import DirectoryQuery, _filtered

    _bulk(200, "gamma")
    with session_scope() as session:
        session.exec(text("SET LOCAL enable_seqscan = off"))
        query = select(Member.id).where(_filtered(session, DirectoryQuery.read(q="gamma 1")))
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(row[0] for row in session.exec(text(f"EXPLAIN {compiled}")).all())
    assert "ix_member_search" in plan, plan
