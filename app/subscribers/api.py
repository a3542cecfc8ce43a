"""JSON routes: the public topic list, signup for member websites (CORS, any origin, no
credentials), and consent receipt verification."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from app import signing
from app.auth.deps import optional_api_member
from app.consent import receipts
from app.consent.models import ConsentSource
from app.db import SessionDep
from app.i18n import gettext
from app.subscribers import abuse, embed, signup
from app.subscribers.models import SubscribeAccepted, SubscribeRequest, TopicPublic
from app.subscribers.service import InvalidAddress, public_topics, topic_public, topics_by_slug
from app.validation_messages import message_for

router = APIRouter(prefix="/api/v1", tags=["subscriptions"])

# Only this endpoint is open to other origins; no cookies are involved, so no credentials.
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "86400",
}


class Problem(BaseModel):
    """What every JSON error looks like: a message, or one message per field."""

    detail: str | list[dict[str, str]]


def _problem(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"field": field, "message": message}]}, status_code=status, headers=CORS
    )


@router.get("/topics", response_model=list[TopicPublic], summary="The public topics")
def list_topics(session: SessionDep) -> list[TopicPublic]:
    return [topic_public(session, t) for t in public_topics(session)]


async def _read_body(request: Request) -> bytes | None:
    try:
        return await abuse.limited_body(request)
    except HTTPException:
        return None


@router.options("/subscribe", include_in_schema=False)
def subscribe_preflight() -> Response:
    return Response(status_code=204, headers=CORS)


@router.post(
    "/subscribe",
    status_code=202,
    response_model=SubscribeAccepted,
    summary="Ask to subscribe an address (double opt-in)",
    description='Always answers 202 {"status": "pending"} for a well-formed request, '
    "whatever the address's state; the person confirms from the email we send. "
    "The signup is a member's recruit (it can earn the member recruiting credits) only "
    "when it carries the member's API key (`Authorization: Bearer`, from a server) or "
    "the `form_token` of the member's signup snippet (which also limits the topics). "
    "The `source` field is ignored: naming a member attributes nothing.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SubscribeRequest.model_json_schema()}},
        }
    },
    responses={
        400: {"model": Problem, "description": "The body is not JSON"},
        401: {"model": Problem, "description": "An API key was sent and is not valid"},
        413: {"model": Problem, "description": "Body over 16 KB"},
        422: {"model": Problem, "description": "Invalid"},
        429: {"model": Problem, "description": "Too many attempts from here or for this address"},
    },
)
def subscribe(
    request: Request, session: SessionDep, body: Annotated[bytes | None, Depends(_read_body)]
) -> Response:
    # A plain def: FastAPI runs it in a thread, so blocking database calls never stall
    # the event loop (the body was read by the async dependency).
    if body is None:
        return _problem(413, "body", gettext("That request is too large (at most 16 KB)."))
    try:
        raw: Any = json.loads(body or b"null")
        data = SubscribeRequest.model_validate(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):  # not JSON, or not even text
        return _problem(400, "body", gettext("The body must be JSON."))
    except RecursionError:  # brackets nested deeper than any signup needs
        return _problem(400, "body", gettext("The body's JSON is nested too deeply."))
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"][:1]) or "body",
                "message": message_for(err),
            }
            for err in exc.errors()
        ]
        return JSONResponse({"detail": problems}, status_code=422, headers=CORS)
    topics, unknown = topics_by_slug(session, data.topics)
    if unknown:
        return _problem(
            422, "topics", gettext("unknown topic: %(topics)s", topics=", ".join(unknown))
        )
    # Attribution to a member: its API key or its snippet's signed form token, never a
    # name in the body (`source` is ignored).
    member = None
    try:
        principal = optional_api_member(request, session)
    except HTTPException as exc:
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers={**CORS, **(exc.headers or {})},
        )
    if principal is not None:
        member = principal.member
    elif data.form_token:
        try:
            form = embed.read_form_token(session, data.form_token, member_slug=None)
        except signing.InvalidToken:
            return _problem(
                422, "form_token", gettext("This form token is not valid or out of date.")
            )
        member = form.member
        offered = {t.id for t in form.topics}
        outside = [t.slug for t in topics if t.id not in offered]
        if outside:
            return _problem(
                422,
                "topics",
                gettext("this form does not offer: %(topics)s", topics=", ".join(outside)),
            )
    if not abuse.within_limits("signup", request, str(data.email)):
        return _problem(429, "body", gettext("Too many attempts. Please wait a few minutes."))
    try:
        signup.accept_signup(
            session,
            signup=signup.Signup(
                email=str(data.email),
                topics=topics,
                source=ConsentSource.api,
                first_name=data.first_name,
                share_with_members=data.share_with_members,
                member=member,
                language=data.language,
            ),
        )
    except InvalidAddress as exc:
        return _problem(422, "email", str(exc))
    # Commit here rather than in the session dependency's teardown, which runs only
    # after another hop through the event loop: the answer waits for nothing more.
    session.commit()
    return JSONResponse({"status": "pending"}, status_code=202, headers=CORS)


class ReceiptVerdict(BaseModel):
    genuine: bool
    reason: str


@router.post(
    "/receipts/verify",
    response_model=ReceiptVerdict,
    summary="Is this consent receipt genuine and unaltered?",
    responses={400: {"model": Problem, "description": "The body is not JSON"}},
)
def verify_receipt(receipt: dict[str, Any], session: SessionDep) -> ReceiptVerdict:
    genuine, reason = receipts.verify_receipt(session, receipt)
    return ReceiptVerdict(genuine=genuine, reason=reason)
