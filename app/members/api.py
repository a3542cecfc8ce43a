"""The members JSON API: the public directory (JSON or CSV) and a key's own member."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from app.auth.deps import ApiMember
from app.db import SessionDep
from app.members import service
from app.members.models import Member, MemberPublic, MemberSelf

router = APIRouter(prefix="/api/v1", tags=["members"])

CSV_COLUMNS = list(MemberPublic.model_fields)


def _csv_cell(value: str | None) -> str:
    text = value or ""
    # A cell starting with these is run as a formula by spreadsheets.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def directory_csv(members: Sequence[Member]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for member in members:
        public = MemberPublic.of(member).model_dump()
        writer.writerow([_csv_cell(public[column]) for column in CSV_COLUMNS])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="coop-data-club-members.csv"'},
    )


@router.get(
    "/members",
    response_model=list[MemberPublic],
    summary="The public member directory",
    description="Active member co-ops with only the fields each chose to publish "
    "(others are null). Search by name (`q`), `kind` and `region`; `format=csv` "
    "returns the same as a CSV download.",
    responses={200: {"content": {"text/csv": {}}}},
)
def list_members(
    session: SessionDep,
    q: str = "",
    kind: str = "",
    region: str = "",
    format: Literal["json", "csv"] = "json",
) -> Response | list[MemberPublic]:
    members = service.directory(session, q=q, kind=kind, region=region)
    if format == "csv":
        return directory_csv(members)
    return [MemberPublic.of(m) for m in members]


@router.get(
    "/members.csv",
    summary="The public member directory as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def list_members_csv(
    session: SessionDep, q: str = "", kind: str = "", region: str = ""
) -> Response:
    return directory_csv(service.directory(session, q=q, kind=kind, region=region))


@router.get(
    "/members/{slug}",
    response_model=MemberPublic,
    summary="One member co-op as the directory shows it",
    responses={404: {"description": "No active member at this slug"}},
)
def get_member(session: SessionDep, slug: str) -> MemberPublic:
    member = service.public_member(session, slug=slug)
    if member is None:
        raise HTTPException(status_code=404, detail="There is no member co-op at this slug.")
    return MemberPublic.of(member)


@router.get(
    "/member",
    response_model=MemberSelf,
    summary="The member co-op this API key belongs to",
    responses={401: {"description": "Missing, unknown or revoked key, or suspended member"}},
)
def my_member(principal: ApiMember) -> Member:
    return principal.member
