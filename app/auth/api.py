"""The API keys JSON API: a member lists its keys and revokes one (e.g. a leaked key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from app.auth import service
from app.auth.deps import ApiMember
from app.auth.models import ApiKey, ApiKeyPublic
from app.db import SessionDep
from app.i18n import gettext as _

router = APIRouter(prefix="/api/v1", tags=["api keys"])

UNAUTHORIZED = {401: {"description": "Missing, unknown or revoked key, or suspended member"}}
# Ids are 32-bit integers in the database: a larger number is refused, not looked up.
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "/keys",
    response_model=list[ApiKeyPublic],
    summary="The API keys of this key's member (never their secrets)",
    responses=UNAUTHORIZED,
)
def list_keys(session: SessionDep, principal: ApiMember) -> Sequence[ApiKey]:
    return service.member_keys(session, member_id=principal.member.id)  # type: ignore[arg-type]


@router.delete(
    "/keys/{key_id}",
    response_model=ApiKeyPublic,
    summary="Revoke one of this member's API keys",
    responses={**UNAUTHORIZED, 404: {"description": "This member has no such key"}},
)
def revoke_key(session: SessionDep, principal: ApiMember, key_id: KeyId) -> ApiKey:
    key = service.member_key(session, member_id=principal.member.id, key_id=key_id)  # type: ignore[arg-type]
    if key is None:
        raise HTTPException(status_code=404, detail=_("Your co-op has no such API key."))
    return service.revoke_api_key(session, key=key)
