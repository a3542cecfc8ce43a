"""POST /webhooks/stripe: verify the signature on the raw body, store the event once by
its id, and apply it in the same transaction (a duplicate changes nothing)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.db import SessionDep
from app.marketplace import payment_events
from app.payments import stripe_gateway
from app.payments.models import StripeEvent

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/stripe",
    summary="Stripe events (signed)",
    responses={
        400: {"description": "Unsigned, wrongly signed or stale event"},
        404: {"description": "Stripe is not configured on this Club"},
    },
)
async def stripe_webhook(request: Request, session: SessionDep) -> dict[str, str]:
    raw = await request.body()
    try:
        event = stripe_gateway.verify_event(raw, request.headers.get("stripe-signature"))
    except stripe_gateway.BadWebhook as exc:
        raise HTTPException(400, detail=str(exc)) from None
    return await _run_sync(session, event)


async def _run_sync(session, event):  # type: ignore[no-untyped-def]
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(store_and_handle, session, event)


def store_and_handle(session, event: dict) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if session.exec(select(StripeEvent.id).where(StripeEvent.event_id == event["id"])).first():
        return {"status": "duplicate"}
    obj = (event.get("data") or {}).get("object") or {}
    row = StripeEvent(event_id=event["id"], type=event["type"], object_id=obj.get("id"))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return {"status": "duplicate"}  # the same event arriving twice at once
    row.outcome = payment_events.handle(session, event)[:300]
    session.flush()
    return {"status": row.outcome}
