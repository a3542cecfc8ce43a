"""The members JSON API: the public directory (JSON pages, CSV, JSON-LD) and a key's own
member. The directory is open data: no key needed, every output carries its licence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import SQLModel

from app.auth.deps import ApiMember
from app.db import SessionDep
from app.i18n import gettext as _
from app.members import directory, open_data, service
from app.members.models import Member
from app.members.schemas import MemberPublic, MemberSelf

router = APIRouter(prefix="/api/v1", tags=["members"])

FILTERS_TEXT = (
    "`q` is literal text (`%` and `_` match themselves); each word must be found in the "
    "name or a published field. Filters use codes: `kind` and `sector` from /members/codes, "
    "`country` ISO 3166-1 alpha-2 (CA), `region` ISO 3166-2 (CA-QC), `language` a BCP 47 "
    "tag (`fr` also finds `fr-CA`). A filter matches only members that publish that field."
)
BAD_QUERY = {
    400: {
        "description": "An unknown kind, sector, country, region, language or sort, or a "
        "cursor the directory did not give out"
    },
}


def read_query(
    q: Annotated[str, Query(max_length=directory.MAX_QUERY_CHARACTERS)] = "",
    kind: str = "",
    sector: str = "",
    country: str = "",
    region: str = "",
    language: str = "",
    sort: Annotated[str, Query(description="`name` (A to Z) or `newest`")] = "name",
) -> directory.DirectoryQuery:
    query = directory.DirectoryQuery.read(
        q=q,
        kind=kind,
        sector=sector,
        country=country,
        region=region,
        language=language,
        sort=sort,
    )
    if query.problems:
        raise HTTPException(status_code=400, detail=" ".join(query.problems.values()))
    return query


QueryDep = Annotated[directory.DirectoryQuery, Depends(read_query)]


class DirectoryPage(SQLModel):
    items: list[MemberPublic]
    next_cursor: str | None = None
    license: str


@router.get(
    "/members",
    response_model=DirectoryPage,
    summary="Search the public member directory",
    description="Active member co-ops with only the fields each chose to publish "
    f"(others are null), a page at a time. {FILTERS_TEXT} Pass `next_cursor` back as "
    "`cursor` for the next page; it is null on the last. The data's licence is in "
    "`license` and the `Link` header.",
    responses=BAD_QUERY,
)
def list_members(
    session: SessionDep,
    query: QueryDep,
    limit: Annotated[int, Query(ge=1, le=directory.MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    try:
        members, next_cursor = directory.page(session, query, limit=limit, cursor=cursor)
    except directory.DirectoryQueryError as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None
    body = DirectoryPage(
        items=[MemberPublic.of(m) for m in members],
        next_cursor=next_cursor,
        license=open_data.licence().url,
    )
    return JSONResponse(body.model_dump(), headers=open_data.public_headers())


def _export(
    request: Request, session: SessionDep, query: directory.DirectoryQuery, kind: str
) -> Response:
    tag = open_data.etag(kind, query.params(), directory.fingerprint(session, query))
    cached = open_data.not_modified(request, tag)
    if cached is not None:
        return cached
    members = directory.everything(session, query)
    headers = {"ETag": tag, "Cache-Control": "no-cache", **open_data.public_headers()}
    if kind == "csv":
        headers["Content-Disposition"] = 'attachment; filename="coop-data-club-members.csv"'
        return Response(
            open_data.csv_text(members), media_type="text/csv; charset=utf-8", headers=headers
        )
    return JSONResponse(
        open_data.directory_document(members), media_type="application/ld+json", headers=headers
    )


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is still current"}
}


@router.get(
    "/members.csv",
    summary="The public member directory as CSV",
    description=f"Every matching member (no pages), the same columns as the JSON items; "
    f"lists are space-separated codes. {FILTERS_TEXT} Send the `ETag` back as "
    "`If-None-Match` to get 304 when nothing changed. The licence is in the `Link` header.",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **NOT_MODIFIED, **BAD_QUERY},
)
def list_members_csv(request: Request, session: SessionDep, query: QueryDep) -> Response:
    return _export(request, session, query, "csv")


@router.get(
    "/members.jsonld",
    summary="The public member directory as schema.org JSON-LD",
    description="A schema.org `Dataset` whose `hasPart` are `Organization`s with only "
    f"their public fields, `dateModified` and the data's `license`. {FILTERS_TEXT} "
    "Conditional GET with `ETag` / `If-None-Match` as for the CSV.",
    response_class=Response,
    responses={
        200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}},
        **NOT_MODIFIED,
        **BAD_QUERY,
    },
)
def list_members_jsonld(request: Request, session: SessionDep, query: QueryDep) -> Response:
    return _export(request, session, query, "jsonld")


@router.get(
    "/members/{slug}",
    response_model=MemberPublic,
    summary="One member co-op as the directory shows it",
    responses={404: {"description": "No active member at this slug"}},
)
def get_member(session: SessionDep, slug: str, response: Response) -> MemberPublic:
    member = service.public_member(session, slug=slug)
    if member is None:
        raise HTTPException(status_code=404, detail=_("There is no member co-op at this slug."))
    response.headers.update(open_data.public_headers())
    return MemberPublic.of(member)


@router.get(
    "/member",
    response_model=MemberSelf,
    summary="The member co-op this API key belongs to",
    responses={401: {"description": "Missing, unknown or revoked key, or suspended member"}},
)
def my_member(principal: ApiMember) -> Member:
    return principal.member
