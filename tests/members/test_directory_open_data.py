"""The directory as open data: a hidden field never appears in any output (every field ×
every output), the JSON-LD reads back as schema.org Organizations (pyld), the licence
travels with every export, and the exports answer conditional GETs."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from pyld import jsonld
from sqlmodel import select

from app.db import session_scope
from app.members.models import Member
from app.members.schemas import PUBLIC_SWITCHES
from tests.members.factories import log_in, make_account, make_member, post_form

# A value for every directory field that appears nowhere else on any page.
SECRET = {
    "website": "https://secret-site.example.net",
    "description": "Zebrafinch cooperative description",
    "kind": "platform",
    "sectors": ",utilities,",
    "country": "NZ",
    "region": "NZ-CAN",
    "city": "Quokkaville",
    "contact_email": "hidden-contact@secret.example.net",
    "founded_year": 1847,
    "languages": ",eu,",
    "offer": "Marmoset consulting offer",
    "logo_url": "https://secret-logo.example.net/logo.png",
}
# How each value reads on a page (labels, not codes).
SHOWN_AS = {
    "website": ["secret-site.example.net"],
    "description": ["Zebrafinch"],
    "kind": ["Platform co-op", "kind-platform", ",platform,"],
    "sectors": ["Water and utilities", "utilities"],
    "country": ["New Zealand", '"NZ"', ",NZ,"],
    "region": ["Canterbury", "NZ-CAN"],
    "city": ["Quokkaville"],
    "contact_email": ["hidden-contact"],
    # (a bare 1847 could be digits of a timestamp)
    "founded_year": ['"foundingDate"', '"founded_year":1847', "Founded</dt>", ",1847,"],
    "languages": ["Basque", '"eu"', ",eu,"],
    "offer": ["Marmoset"],
    "logo_url": ["secret-logo"],
}
SEARCH_FORM = re.compile(r"<form[^>]*role=\"search\".*?</form>", re.DOTALL)


def outputs(client) -> dict[str, str]:
    """Every place the directory shows a member, as text."""
    pages = {
        "html directory": client.get("/members").text,
        "html member page": client.get("/members/secret-coop").text,
        "embed": client.get("/members/embed/view").text,
        "json list": client.get("/api/v1/members").text,
        "json member": client.get("/api/v1/members/secret-coop").text,
        "csv": client.get("/api/v1/members.csv").text,
        "json-ld": client.get("/api/v1/members.jsonld").text,
    }
    # The filters list every kind and sector by name: what a member shows is elsewhere.
    return {name: SEARCH_FORM.sub("", text) for name, text in pages.items()}


@pytest.mark.parametrize("field", list(PUBLIC_SWITCHES))
def test_a_hidden_field_appears_in_no_output_and_a_shown_one_in_every_output(client, field):
    switch = PUBLIC_SWITCHES[field]
    everything_else_shown = {s: s != switch for s in PUBLIC_SWITCHES.values()}
    make_member("secret-coop", name="Secret Co-op", **SECRET, **everything_else_shown)
    for name, text in outputs(client).items():
        for needle in SHOWN_AS[field]:
            assert needle not in text, f"hidden {field} shows in the {name}"
    # and searching or filtering by it finds nothing
    found = client.get("/api/v1/members", params={"q": SHOWN_AS[field][0].split()[0]}).json()
    if field not in ("website", "logo_url", "contact_email"):  # not searchable when shown
        assert found["items"] == [], f"search finds the hidden {field}"
    with session_scope() as session:
        member = session.exec(select(Member).where(Member.slug == "secret-coop")).one()
        setattr(member, switch, True)
        session.add(member)
    shown = outputs(client)
    machine = ("json list", "json member", "csv", "json-ld")
    for name in machine:
        assert any(n in shown[name] for n in SHOWN_AS[field] + [str(SECRET[field]).strip(",")]), (
            f"shown {field} missing from the {name}"
        )


def _schema_org_loader(url, options=None):  # noqa: ANN001
    """No network here: schema.org's context maps every term into https://schema.org/."""
    if url.rstrip("/") in ("https://schema.org", "http://schema.org"):
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": {"@context": {"@vocab": "https://schema.org/"}},
        }
    raise jsonld.JsonLdError("no network in tests", "loading document failed", {"url": url})


SCHEMA = "https://schema.org/"


def _organizations(expanded: list[dict]) -> list[dict]:
    return [node for node in expanded if SCHEMA + "Organization" in node.get("@type", [])]


def test_the_json_ld_reads_back_as_schema_org_organizations_with_public_fields(client):
    make_member(
        "riverside",
        name="Riverside Food Co-op",
        kind="consumer",
        country="CA",
        region="CA-ON",
        city="Toronto",
        languages=",en,fr-CA,",
        description="Groceries since 1978.",
        show_country=True,
        show_city=True,
        show_languages=True,
        show_region=False,
    )
    response = client.get("/api/v1/members.jsonld")
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert document["@context"] == "https://schema.org"
    assert document["license"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    flat = jsonld.flatten(document, options={"documentLoader": _schema_org_loader})
    nodes = flat["@graph"] if isinstance(flat, dict) else flat
    expanded = jsonld.expand(nodes, options={"documentLoader": _schema_org_loader})
    (org,) = _organizations(expanded)
    assert org[SCHEMA + "name"][0]["@value"] == "Riverside Food Co-op"
    assert org[SCHEMA + "description"][0]["@value"] == "Groceries since 1978."
    assert [v["@value"] for v in org[SCHEMA + "knowsLanguage"]] == ["en", "fr-CA"]
    assert org[SCHEMA + "dateModified"][0]["@value"]
    addresses = [n for n in expanded if SCHEMA + "PostalAddress" in n.get("@type", [])]
    assert addresses[0][SCHEMA + "addressCountry"][0]["@value"] == "CA"
    assert SCHEMA + "addressRegion" not in addresses[0]  # hidden
    # Shapes schema.org defines for an Organization (and nothing it does not).
    allowed = {
        "name", "identifier", "mainEntityOfPage", "url", "description", "logo", "email",
        "foundingDate", "knowsLanguage", "makesOffer", "additionalType", "knowsAbout",
        "address", "dateModified",
    }  # fmt: skip
    used = {key.removeprefix(SCHEMA) for key in org if key.startswith(SCHEMA)}
    assert used <= allowed, used - allowed


def test_a_members_page_embeds_its_json_ld(client):
    make_member("riverside", name="Riverside </script><b>Co-op", description="Bread & jam")
    page = client.get("/members/riverside")
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S)
    assert block, "no JSON-LD on the page"
    data = json.loads(block.group(1))
    assert data["@type"] == "Organization" and data["name"] == "Riverside </script><b>Co-op"
    assert data["license"].startswith("https://opendatacommons.org")
    expanded = jsonld.expand(data, options={"documentLoader": _schema_org_loader})
    assert _organizations(expanded)


def test_every_export_states_the_licence_and_answers_conditional_gets(client):
    make_member("riverside", name="Riverside Food Co-op", kind="consumer")
    page = client.get("/members")
    assert "Open Database License" in page.text
    for url in ("/api/v1/members.csv", "/api/v1/members.jsonld", "/api/v1/members"):
        response = client.get(url)
        assert 'rel="license"' in response.headers["link"], url
        assert "opendatacommons.org" in response.headers["link"]
        assert response.headers["access-control-allow-origin"] == "*"
    for url in ("/api/v1/members.csv", "/api/v1/members.jsonld"):
        first = client.get(url)
        tag = first.headers["etag"]
        again = client.get(url, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        other_filter = client.get(url, params={"kind": "worker"}, headers={"If-None-Match": tag})
        assert other_filter.status_code == 200
        make_member(f"new-{len(url)}", name="Newcomer Co-op")
        assert client.get(url, headers={"If-None-Match": tag}).status_code == 200


def test_a_profile_change_changes_the_etag_and_date_modified(client):
    member = make_member("riverside", name="Riverside Food Co-op", kind="consumer")
    owner = make_account("owner@riverside.example.org", member=member)
    log_in(client, owner)
    first = client.get("/api/v1/members.jsonld")
    post_form(
        client,
        "/member/profile",
        {"name": "Riverside Food Co-op", "kind": "consumer", "city": "Toronto", "show_city": "on"},
    )
    second = client.get("/api/v1/members.jsonld", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    before = first.json()["hasPart"][0]["dateModified"]
    after = second.json()["hasPart"][0]["dateModified"]
    assert after > before
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/members.csv").text)))
    assert rows[0]["city"] == "Toronto"
