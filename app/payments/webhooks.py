"""POST /webhooks/stripe: verify the signature on the raw body, store the event once by
its id, and deliver what it means (app.payments.events) in the same transaction, so an
event is stored with its effect or not at all, and a duplicate changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from app.db import SessionDep
from app.payments import events, stripe_gateway
from app.payments.models import StripeEvent

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/stripe",
    summary="Stripe events (signed)",
    responses={
        400: {"description": "Unsigned, wrongly signed, stale or malformed event"},
        404: {"description": "Stripe is not configured on this Club"},
    },
)
async def stripe_webhook(request: Request, session: SessionDep) -> dict[str, str]:
    # async only to read the raw body; the database work runs in a thread.
    raw = await request.body()
    try:
        event = stripe_gateway.verify_event(raw, request.headers.get("stripe-signature"))
    except stripe_gateway.BadWebhook as exc:
        raise HTTPException(400, detail=str(exc)) from None
    return await run_in_threadpool(store_and_handle, session, event)


def store_and_handle(session: Session, event: dict[str, Any]) -> dict[str, str]:
    if session.exec(select(StripeEvent.id).where(StripeEvent.event_id == event["id"])).first():
        return {"status": "duplicate"}
    object_id = event["data"]["object"].get("id")
    row = StripeEvent(
        event_id=event["id"],
        type=event["type"][:100],
        object_id=object_id[:255] if isinstance(object_id, str) else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return {"status": "duplicate"}  # the same event arriving twice at once
    meaning = stripe_gateway.payment_event(event)
    outcome = events.deliver(session, meaning) if meaning else "ignored: not an event we act on"
    row.outcome = outcome[:300]
    session.flush()
    return {"status": row.outcome}
