"""The directory in open formats: CSV, schema.org JSON-LD, the data's licence, and ETags.

Every output is built from `MemberPublic`, so a field the member hides is never in it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup

from app.config import get_settings
from app.members import codes
from app.members.models import Member
from app.members.schemas import MemberPublic


@dataclass(frozen=True)
class Licence:
    code: str
    name: str
    url: str


LICENCES = {
    "ODbL-1.0": Licence(
        "ODbL-1.0",
        "Open Data Commons Open Database License (ODbL) 1.0",
        "https://opendatacommons.org/licenses/odbl/1-0/",
    ),
    "CC-BY-4.0": Licence(
        "CC-BY-4.0",
        "Creative Commons Attribution 4.0 International (CC BY 4.0)",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
}


def licence() -> Licence:
    return LICENCES[get_settings().directory_licence]


def link_header() -> str:
    return f'<{licence().url}>; rel="license"'


def public_headers() -> dict[str, str]:
    """Open data: any site's scripts may read it (no cookies are involved), and the
    licence travels with it."""
    return {"Link": link_header(), "Access-Control-Allow-Origin": "*"}


# CSV --------------------------------------------------------------------------------------

CSV_COLUMNS = list(MemberPublic.model_fields)


def _csv_cell(value: object) -> str:
    if isinstance(value, list):
        value = " ".join(value)
    text = "" if value is None else str(value)
    # A cell starting with these is run as a formula by spreadsheets.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(members: Iterable[Member]) -> str:
    """Lists (sectors, languages) are space-separated codes. The licence is not a row:
    it travels in the Link header and the file name says where the data is from."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for member in members:
        public = MemberPublic.of(member).model_dump()
        writer.writerow([_csv_cell(public[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


# JSON-LD ----------------------------------------------------------------------------------


def member_url(slug: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/members/{slug}"


def organization(member: Member) -> dict[str, Any]:
    """One member as a schema.org Organization: the public fields only."""
    public = MemberPublic.of(member)
    node: dict[str, Any] = {
        "@type": "Organization",
        "@id": member_url(public.slug),
        "name": public.name,
        "identifier": public.slug,
        "mainEntityOfPage": member_url(public.slug),
    }
    if public.website:
        node["url"] = public.website
    if public.description:
        node["description"] = public.description
    if public.logo_url:
        node["logo"] = public.logo_url
    if public.contact_email:
        node["email"] = f"mailto:{public.contact_email}"
    if public.founded_year:
        node["foundingDate"] = str(public.founded_year)
    if public.languages:
        node["knowsLanguage"] = public.languages
    if public.offer:
        node["makesOffer"] = {"@type": "Offer", "description": public.offer}
    if public.kind:
        node["additionalType"] = codes_url(f"kind-{public.kind}")
    if public.sectors:
        node["knowsAbout"] = [codes.SECTORS[s] for s in public.sectors if s in codes.SECTORS]
    address: dict[str, Any] = {}
    if public.country:
        address["addressCountry"] = public.country
    if public.region:
        address["addressRegion"] = public.region
    if public.city:
        address["addressLocality"] = public.city
    if address:
        node["address"] = {"@type": "PostalAddress", **address}
    if member.updated_at is not None:
        node["dateModified"] = member.updated_at.isoformat()
    return node


def codes_url(anchor: str) -> str:
    """Where a code is defined: the public code list page (/members/codes)."""
    return f"{get_settings().base_url.rstrip('/')}/members/codes#{anchor}"


def context() -> str:
    return "https://schema.org"


def member_document(member: Member) -> dict[str, Any]:
    return {
        "@context": context(),
        **organization(member),
        "license": licence().url,
    }


def directory_document(members: Sequence[Member]) -> dict[str, Any]:
    base = get_settings().base_url.rstrip("/")
    return {
        "@context": context(),
        "@type": "Dataset",
        "@id": f"{base}/api/v1/members.jsonld",
        "name": "Co-op Data Club member directory",
        "license": licence().url,
        "hasPart": [organization(m) for m in members],
    }


def script_tag(document: dict[str, Any]) -> Markup:
    """JSON-LD for a <script type="application/ld+json"> (`<`, `>`, `&` escaped so no
    value can close the script)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(f'<script type="application/ld+json">{text}</script>')  # noqa: S704 (escaped above)


# Conditional GET --------------------------------------------------------------------------


def etag(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps([*parts, licence().code], default=str).encode())
    return f'"{digest.hexdigest()[:32]}"'


def not_modified(request: Request, tag: str) -> Response | None:
    """304 when the client already has this version (If-None-Match)."""
    wanted = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if tag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": tag, **public_headers()})
    return None
