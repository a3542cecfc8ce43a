"""The consent log's public read API: key, checkpoints, proofs and leaves (no login).

Formats are those of docs/consent-log.md: text/plain C2SP notes and keys, JSON proofs
with base64 hashes. Everything about a fixed tree size never changes, so it is cached
for a long time; only the latest checkpoint is fresh.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from app.consent import log as consent_log
from app.consent.merkle import ProofRequestError
from app.db import SessionDep

router = APIRouter(prefix="/consent-log", tags=["consent log"])

IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
FRESH = {"Cache-Control": "public, max-age=2"}
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
    index: Annotated[int, Query(ge=0, le=2**53)],
    size: Size,
) -> InclusionProof:
    try:
        proof = consent_log.prove_inclusion(session, index, size)
    except (ProofRequestError, consent_log.UnknownSize) as exc:
        raise _refuse(exc) from exc
    return InclusionProof(index=index, size=size, proof=_b64(proof))


@router.get(
    "/proof/consistency",
    summary="Proof that the tree of `size` extends the tree of `old`",
    responses={400: {"description": "Impossible inputs"}, 404: {"description": "Unknown size"}},
)
def consistency(session: SessionDep, old: Size, size: Size) -> ConsistencyProof:
    try:
        proof = consent_log.prove_consistency(session, old, size)
    except (ProofRequestError, consent_log.UnknownSize) as exc:
        raise _refuse(exc) from exc
    return ConsistencyProof(old=old, size=size, proof=_b64(proof))


@router.get(
    "/leaves",
    summary="A page of leaves, for monitors rebuilding the tree",
    responses={400: {"description": "Impossible range"}},
)
def leaves(
    session: SessionDep,
    start: Annotated[int, Query(ge=0, le=2**53)],
    end: Annotated[int, Query(ge=1, le=2**53)],
) -> Leaves:
    """At most 1,000 leaves from `start`; ask again from `start + len(leaves)`."""
    try:
        page = consent_log.leaves(session, start, end)
    except ProofRequestError as exc:
        raise _refuse(exc) from exc
    return Leaves(start=start, leaves=_b64(page))
