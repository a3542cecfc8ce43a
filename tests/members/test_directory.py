"""The public member directory shows only what each member chose to publish."""

import csv
import io

from app.members.models import MemberStatus
from tests.members.factories import make_member


def seed():
    make_member(
        "riverside-food",
        name="Riverside Food Co-op",
        kind="Food co-op",
        region="Ontario",
        website="https://riverside.example.org",
        description="Groceries since 1978.",
    )
    make_member(
        "maple-housing",
        name="Maple Street Housing",
        kind="Housing co-op",
        region="British Columbia",
        website="https://maple.example.org",
        show_website=False,
        show_region=False,
    )
    make_member("waiting", name="Waiting Co-op", status=MemberStatus.applied)
    make_member("paused", name="Paused Co-op", status=MemberStatus.suspended)


def test_json_shows_only_published_fields_of_active_members(client):
    seed()
    body = client.get("/api/v1/members").json()
    assert [m["slug"] for m in body] == ["maple-housing", "riverside-food"]
    maple = body[0]
    assert maple["kind"] == "Housing co-op"
    assert maple["website"] is None and maple["region"] is None
    assert body[1]["website"] == "https://riverside.example.org"


def test_searching_cannot_reveal_a_hidden_field(client):
    seed()
    found = client.get("/api/v1/members", params={"region": "british columbia"}).json()
    assert found == []  # Maple is in BC but does not publish its region
    assert [m["slug"] for m in client.get("/api/v1/members", params={"q": "maple"}).json()] == [
        "maple-housing"
    ]
    by_kind = client.get("/api/v1/members", params={"kind": "Food co-op"}).json()
    assert [m["slug"] for m in by_kind] == ["riverside-food"]


def test_csv_download_has_the_same_rows(client):
    seed()
    for url in ("/api/v1/members.csv", "/api/v1/members?format=csv"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["slug"] for r in rows] == ["maple-housing", "riverside-food"]
        assert rows[0]["website"] == ""


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client):
    make_member("formula", name="=HYPERLINK(1)")
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/members.csv").text)))
    assert rows[0]["name"] == "'=HYPERLINK(1)"


def test_html_directory_searches_and_has_empty_states(client):
    empty = client.get("/members")
    assert "No member co-ops are listed yet" in empty.text
    seed()
    page = client.get("/members", params={"kind": "Housing co-op"})
    assert "Maple Street Housing" in page.text
    assert "Riverside Food" not in page.text
    assert "maple.example.org" not in page.text
    assert "Waiting Co-op" not in client.get("/members").text
    none = client.get("/members", params={"q": "zzz"})
    assert "No member co-op matches" in none.text


def test_a_members_public_page(client):
    seed()
    page = client.get("/members/maple-housing")
    assert page.status_code == 200 and "Maple Street Housing" in page.text
    assert "British Columbia" not in page.text
    assert client.get("/members/waiting").status_code == 404
    assert client.get("/api/v1/members/waiting").status_code == 404
    assert client.get("/api/v1/members/riverside-food").json()["region"] == "Ontario"
