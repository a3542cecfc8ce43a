"""Request body limits: a body over its limit is refused with 413 before it is buffered.

The limit is COOPCLUB_MAX_BODY_BYTES for JSON, forms and everything else, and the CSV
import's own limit (plus room for the form's other fields) for that upload. A declared
`Content-Length` over the limit is answered at once, without running the app or reading
the body; a body sent without one (chunked) is counted as it streams and refused the
moment it passes the limit. Either way the 413 closes the connection, so the server
never reads the rest of an oversized upload.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.bounces.api import MAX_REPORT_BYTES
from app.config import get_settings
from app.i18n import gettext
from app.subscribers.importer import MAX_FILE_BYTES

# Routes that take files have their own limits. The import form carries the file plus
# a few small fields (topics, CSRF token).
UPLOAD_LIMITS = {
    "/admin/import": MAX_FILE_BYTES + 64 * 1024,
    "/webhooks/bounces": MAX_REPORT_BYTES,
}


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads a body that grew past its limit. An
    HTTPException, so FastAPI passes it through body parsing to the error handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail=gettext("That request is too large (at most %(size)s).", size=describe(limit)),
            headers={"Connection": "close"},
        )


def describe(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{size // 1024} KB"


def limit_for(scope: Scope) -> int:
    return UPLOAD_LIMITS.get(scope["path"], get_settings().max_body_bytes)


class BodyLimit:
    """Pure ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, receive_within_limit, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    """The 413 in the shape the client expects (JSON for the API, a page otherwise),
    rendered without running the app: the same text as `BodyTooLarge`."""
    from fastapi.responses import JSONResponse, PlainTextResponse

    detail = BodyTooLarge(limit).detail
    path: str = scope["path"]
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
    headers = {"Connection": "close"}
    if path.startswith(("/api/", "/webhooks/")) or "application/json" in accept:
        response = JSONResponse({"detail": detail}, status_code=413, headers=headers)
    else:
        response = PlainTextResponse(detail, status_code=413, headers=headers)

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
