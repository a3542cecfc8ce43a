"""The consent log's public read API: key, checkpoints, proofs and leaves (no login).

Formats are those of docs/consent-log.md: text/plain C2SP notes and keys, JSON proofs
with base64 hashes. Everything about a fixed tree size never changes, so it is cached
for a long time; only the latest checkpoint is fresh.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.consent import log as consent_log
from app.consent.merkle import ProofRequestError
from app.db import SessionDep

IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
FRESH = {"Cache-Control": "public, max-age=2"}
# A refusal is no answer to keep: a size unknown now is signed a moment later.
UNCACHED = "no-store"


class _LogRoute(APIRoute):
    """Renders this API's refusals (404, 400, 422) with the app's own handlers and marks
    them `no-store`, so that no cache keeps one in place of the immutable answer."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        answer = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await answer(request)
            except (StarletteHTTPException, RequestValidationError) as exc:
                render = next(
                    request.app.exception_handlers[kind]
                    for kind in type(exc).__mro__
                    if kind in request.app.exception_handlers
                )
                response = render(request, exc)
                if inspect.isawaitable(response):
                    response = await response
                response.headers["Cache-Control"] = UNCACHED
                return response

        return handler


router = APIRouter(prefix="/consent-log", tags=["consent log"], route_class=_LogRoute)
Size = Annotated[int, Query(ge=0, le=2**53, description="a tree size")]


class InclusionProof(BaseModel):
    index: int
    size: int
    proof: list[str]  # base64 hashes, leaf side first (RFC 9162 PATH)


class ConsistencyProof(BaseModel):
    old: int
    size: int
    proof: list[str]  # base64 hashes (RFC 9162 SUBPROOF(old, D[size], true))


class Leaves(BaseModel):
    start: int
    leaves: list[str]  # base64 leaf bytes (canonical JSON of each event)


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _refuse(exc: Exception) -> HTTPException:
    if isinstance(exc, consent_log.UnknownSize):
        return HTTPException(404, str(exc))
    return HTTPException(400, str(exc))


@router.get("/key", response_class=PlainTextResponse, summary="The log's verifier key")
def verifier_key() -> PlainTextResponse:
    """`<name>+<8 hex key id>+<base64(0x01 || Ed25519 public key)>`, as Go's note package."""
    return PlainTextResponse(consent_log.log_verifier().encode() + "\n", headers=FRESH)


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint",
    responses={404: {"description": "Nothing has been logged yet"}},
)
def latest_checkpoint(session: SessionDep) -> PlainTextResponse:
    checkpoint = consent_log.latest_checkpoint(session)
    if checkpoint is None:
        raise HTTPException(404, "the log has no checkpoint yet")
    return PlainTextResponse(checkpoint.note, headers=FRESH)


@router.get(
    "/checkpoint/{size}",
    response_class=PlainTextResponse,
    summary="The signed checkpoint of one tree size",
    responses={404: {"description": "The log never had a checkpoint of that size"}},
)
def checkpoint_of_size(size: int, session: SessionDep) -> PlainTextResponse:
    checkpoint = consent_log.checkpoint_at(session, size) if 0 <= size <= 2**53 else None
    if checkpoint is None:
        raise HTTPException(404, f"the log never had a checkpoint of size {size}")
    return PlainTextResponse(checkpoint.note, headers=IMMUTABLE)


@router.get(
    "/proof/inclusion",
    summary="Proof that leaf `index` is in the tree of `size`",
    responses={400: {"description": "Impossible inputs"}, 404: {"description": "Unknown size"}},
)
def inclusion(
    session: SessionDep,
    response: Response,
    index: Annotated[int, Query(ge=0, le=2**53)],
    size: Size,
) -> InclusionProof:
    try:
        proof = consent_log.prove_inclusion(session, index, size)
    except (ProofRequestError, consent_log.UnknownSize) as exc:
        raise _refuse(exc) from exc
    response.headers.update(IMMUTABLE)  # (index, size) names a signed tree: it never changes
    return InclusionProof(index=index, size=size, proof=_b64(proof))


@router.get(
    "/proof/consistency",
    summary="Proof that the tree of `size` extends the tree of `old`",
    responses={400: {"description": "Impossible inputs"}, 404: {"description": "Unknown size"}},
)
def consistency(session: SessionDep, response: Response, old: Size, size: Size) -> ConsistencyProof:
    try:
        proof = consent_log.prove_consistency(session, old, size)
    except (ProofRequestError, consent_log.UnknownSize) as exc:
        raise _refuse(exc) from exc
    response.headers.update(IMMUTABLE)
    return ConsistencyProof(old=old, size=size, proof=_b64(proof))


@router.get(
    "/leaves",
    summary="A page of leaves, for monitors rebuilding the tree",
    responses={400: {"description": "Impossible range"}},
)
def leaves(
    session: SessionDep,
    response: Response,
    start: Annotated[int, Query(ge=0, le=2**53)],
    end: Annotated[int, Query(ge=1, le=2**53)],
) -> Leaves:
    """At most 1,000 leaves from `start`; ask again from `start + len(leaves)`."""
    try:
        page = consent_log.leaves(session, start, end)
    except ProofRequestError as exc:
        raise _refuse(exc) from exc
    # A full page lies below a signed size (leaves and their checkpoint are committed
    # together) and never changes; a short one reached the end of the log, which grows.
    full = len(page) == min(end - start, consent_log.LEAVES_PAGE)
    response.headers.update(IMMUTABLE if full else FRESH)
    return Leaves(start=start, leaves=_b64(page))
