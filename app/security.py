"""Security headers on every response, and tokens kept out of the access log.

Every page gets a Content-Security-Policy that runs only our own scripts from /static.
Three kinds of response need a different policy, chosen by path (see `policy_for`):
the embeddable signup form (frameable by any member site), email renderings (the
archive, issue and creative previews: inline styles are how emails are written; no
script at all; framed only by our own pages), and the issue editor (its live
preview is an `iframe srcdoc`, which inherits the editor's policy, so the editor allows
inline styles too; scripts stay our own files only).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings

# Pages: our own scripts and styles only. Images may come from member sites (logos).
PAGE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' https: data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# The embeddable signup form and directory: any member's website may frame them.
EMBED = PAGE | {"frame-ancestors": "*"}
# An email shown on the web (archive) or in the editor's sandboxed preview iframe:
# emails carry inline styles and remote images, and never any script.
EMAIL = {
    "default-src": "'none'",
    "style-src": "'unsafe-inline'",
    "img-src": "https: http: data:",
    "font-src": "https:",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'self'",
}
# The issue editor: its preview iframe's srcdoc (an email) inherits this policy.
EDITOR = PAGE | {"style-src": "'self' 'unsafe-inline'"}
# The API docs (app/api_docs.py) load Swagger UI from our own /static and start it with
# one inline script, allowed by its hash, computed from the page itself. It writes style
# attributes at run time and draws icons from data: URLs.
DOCS = PAGE | {
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
}

# The signup form, and the directory's embeddable view (not /members/embed, which makes
# the snippet: only the view is frameable).
EMBED_PATH = re.compile(r"^(?:/subscribe/embed/[^/]+|/members/embed/view)/?$")
EMAIL_PATHS = (
    re.compile(r"^/archive/[^/]+/\d+/?$"),
    re.compile(r"^/admin/issues/\d+/preview\.html$"),
    # a booking's creative inside its issue, for the approver and for the member
    re.compile(r"^/admin/marketplace/bookings/\d+/preview\.html$"),
    re.compile(r"^/member/bookings/\d+/preview\.html$"),
    # a member mailing as its readers will get it
    re.compile(r"^/admin/mailings/\d+/preview\.html$"),
    re.compile(r"^/member/mailings/\d+/preview\.html$"),
)
EDITOR_PATH = re.compile(r"^/admin/issues/\d+/?$")
DOCS_PATHS = ("/docs",)
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

HSTS = "max-age=31536000; includeSubDomains"


def policy_for(path: str) -> dict[str, str]:
    if EMBED_PATH.match(path):
        return EMBED
    if any(p.match(path) for p in EMAIL_PATHS):
        return EMAIL
    if EDITOR_PATH.match(path):
        return EDITOR
    if path in DOCS_PATHS:
        return DOCS
    return PAGE


def serialise(policy: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def _with_script_hashes(policy: dict[str, str], body: bytes) -> dict[str, str]:
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(body)
    ]
    return policy | {"script-src": " ".join([policy["script-src"], *hashes])}


class SecurityHeaders:
    """Pure ASGI middleware (streams untouched, except the two small API docs pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.hsts = get_settings().https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = policy_for(path)
        if path in DOCS_PATHS:
            await self._docs(scope, receive, send, policy)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(message.get("headers", []), policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send, policy: dict) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, buffer)
        body = b"".join(chunks)
        start["headers"] = self._headers(
            start.get("headers", []), _with_script_hashes(policy, body)
        )
        await send(start)
        await send({"type": "http.response.body", "body": body})

    def _headers(self, raw: list[tuple[bytes, bytes]], policy: dict[str, str]) -> list:
        ours = {
            b"content-security-policy": serialise(policy).encode(),
            b"x-content-type-options": b"nosniff",
            b"referrer-policy": b"strict-origin-when-cross-origin",
        }
        if policy["frame-ancestors"] == "'none'":
            ours[b"x-frame-options"] = b"DENY"  # for browsers without CSP level 2
        if self.hsts:
            ours[b"strict-transport-security"] = HSTS.encode()
        kept = [(k, v) for k, v in raw if k.lower() not in ours]
        return kept + list(ours.items())


# Access log ------------------------------------------------------------------------------
# Links in emails carry their authority in the URL (/confirm/<token>, /u/<token>,
# /login/link?token=...). A web server's access log writes every URL; this filter
# replaces such tokens before the line is written anywhere.

TOKEN_PATH = re.compile(r"^(/(?:confirm|u|preferences|receipts|invitations)/)[^/?]+")
TOKEN_QUERY = re.compile(r"([?&](?:token|key|secret)=)[^&]*", re.IGNORECASE)
# itsdangerous tokens anywhere else: payload.timestamp.signature
SIGNED = re.compile(r"[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{16,}")
REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    if url.startswith("/confirm/resend") or url.startswith("/receipts/verify"):
        return url
    url = TOKEN_PATH.sub(rf"\g<1>{REDACTED}", url)
    url = TOKEN_QUERY.sub(rf"\g<1>{REDACTED}", url)
    return SIGNED.sub(REDACTED, url)


class RedactTokens(logging.Filter):
    """For uvicorn's access log: its args are (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


def install_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
