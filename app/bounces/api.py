"""POST /webhooks/bounces: a bounce or complaint as a raw message, from the mail
server's pipe or a provider's webhook, authenticated by a shared secret."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.bounces import service as bounces
from app.config import get_settings
from app.db import session_scope
from app.i18n import gettext as _

router = APIRouter(tags=["webhooks"])

MAX_REPORT_BYTES = 5_000_000  # one report, with the message it returns


@router.post(
    "/webhooks/bounces",
    summary="Receive a bounce (RFC 3464 DSN, or a server's own format) or a complaint "
    "(RFC 5965 ARF) as a raw message",
    responses={
        202: {"description": "Accepted and applied"},
        401: {"description": "Missing or wrong shared secret"},
        404: {"description": "No shared secret is configured: the webhook is off"},
        422: {"description": "Stored (without addresses), but not a report we can read"},
    },
)
async def bounce_webhook(
    request: Request, x_bounce_secret: Annotated[str | None, Header()] = None
) -> JSONResponse:
    secret = get_settings().bounce_webhook_secret
    if not secret:
        raise HTTPException(404, _("The bounce webhook is not configured on this Club."))
    if not x_bounce_secret or not hmac.compare_digest(x_bounce_secret, secret):
        raise HTTPException(401, _("Missing or wrong X-Bounce-Secret."))
    raw = await request.body()
    if len(raw) > MAX_REPORT_BYTES:
        raise HTTPException(413, _("A bounce report is at most 5 MB."))
    # The raw body needs an async read; the database work runs in a thread.
    return await run_in_threadpool(_process, raw)


def _process(raw: bytes) -> JSONResponse:
    with session_scope() as session:
        try:
            report = bounces.process(session, raw)
        except bounces.UnreadableReport as exc:  # stored, redacted: keep it
            return JSONResponse({"detail": f"Stored but not applied: {exc}"}, status_code=422)
        answer = {
            "kind": report.kind,
            "delivery": report.delivery_id,
            "transactional": report.transactional_id,
        }
    return JSONResponse(answer, status_code=202)
