"""create_app(): the FastAPI application with its routers, lifespan and error pages."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp

from app import api_docs, db, i18n, jobs, observability
from app.auth import api as auth_api
from app.auth import pages as auth_pages
from app.auth.deps import (
    LoginRequired,
    account_for_template,
    login_required_response,
    optional_account,
)
from app.body_limits import BodyLimit
from app.bounces import api as bounce_api
from app.config import get_settings
from app.consent import log_api as consent_log_api
from app.i18n import gettext
from app.marketplace import admin as marketplace_admin
from app.marketplace import api as marketplace_api
from app.marketplace import pages as marketplace_pages
from app.marketplace import payment_events  # noqa: F401  (bookings take payment events)
from app.members import admin as member_admin
from app.members import api as members_api
from app.members import dashboard as member_dashboard
from app.members import pages as members_pages
from app.newsletters import archive
from app.newsletters import block_actions as newsletter_blocks
from app.newsletters import editor as newsletter_editor
from app.newsletters import pages as newsletter_pages
from app.observability import RequestObserver, configure_logging
from app.payments import webhooks as payment_webhooks
from app.privacy import router as privacy_router
from app.recruiting import pages as recruiting_pages
from app.security import SecurityHeaders, install_log_redaction
from app.sending import pages as sending_pages
from app.sharing import pages as sharing_pages
from app.sharing import withdrawal as sharing_withdrawal
from app.subscribers import admin_pages as subscribers_admin
from app.subscribers import admin_people, admin_topics, link_pages, preference_pages, signup_pages
from app.subscribers import api as subscribers_api
from app.validation_messages import message_for
from app.web import STATIC_DIR, render, templates

log = logging.getLogger(__name__)


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/webhooks/", "/healthz", "/consent-log/")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


# What every JSON error looks like (see the handlers in create_app): the schema says so,
# in place of FastAPI's default validation-error shape, which this app never sends.
PROBLEM = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            ]
        }
    },
}


def openapi_with_our_errors(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("ValidationError", None)
        schemas["HTTPValidationError"] = PROBLEM
        app.openapi_schema = schema
    return app.openapi_schema


def allowed_methods(request: Request) -> str:
    """Every method any route serves at this path. Starlette names only the first route
    that matched the path, and a path often has one route per method (GET and POST)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


class ClubApp(FastAPI):
    """FastAPI with our own middleware outside Starlette's error middleware, so that every
    response, the 500 page and a refused oversized body included, passes through it."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestObserver(
            SecurityHeaders(i18n.RequestLanguage(BodyLimit(super().build_middleware_stack())))
        )


def create_app(*, run_jobs_in_process: bool = False) -> FastAPI:
    """The web app. With `run_jobs_in_process` and no Redis configured (the embedded
    default), Dramatiq worker threads and the sweep ticker run inside this process;
    the caller must have imported `workers` so the actors are declared."""
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if run_jobs_in_process and settings.broker_kind == "embedded":
            worker = jobs.InProcessWorker(
                settings.embedded_worker_threads, settings.sweep_interval_seconds
            )
            worker.start()
        # Everything built so far (the modules, this app and its routes: some 185,000
        # objects) is left out of the garbage collector's full collections from now on:
        # one took 80 ms, and every request the process was answering waited for it.
        gc.freeze()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = ClubApp(
        title="Co-op Data Club",
        summary="An opt-in email list and newsletter marketplace owned by the co-ops that use it.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by app/api_docs.py, from our own files
        redoc_url=None,
        # Who is logged in is resolved once per request with the request's own database
        # session, so every page's navigation can show it (see account_for_template).
        dependencies=[Depends(optional_account)],
    )
    api_docs.mount_assets(app)  # before /static, so its longer prefix is matched first
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_log_redaction()
    if not logging.getLogger().handlers:  # a web process uvicorn started: log as `coopclub` does
        configure_logging(settings)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        exc = StarletteHTTPException(exc.status_code, exc.detail, headers)
        if wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        page = render(
            request,
            "error.html",
            status_code=exc.status_code,
            status=exc.status_code,
            detail=exc.detail,
        )
        page.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return page

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            detail = gettext("The body must be JSON.")
            if wants_json(request):
                return JSONResponse({"detail": detail}, status_code=400)
            return render(request, "error.html", status_code=400, status=400, detail=detail)
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body"),
                "message": message_for(err),
            }
            for err in exc.errors()
        ]
        if wants_json(request):
            return JSONResponse({"detail": problems}, status_code=422)
        return render(
            request,
            "error.html",
            status_code=422,
            status=422,
            detail="; ".join(f"{p['field']}: {p['message']}" for p in problems),
        )

    @app.exception_handler(DataError)
    async def unstorable_input(request: Request, exc: DataError) -> Response:
        # The database refused a value the person sent (a NUL character, a number out
        # of range): their input, so a 422, and nothing was stored.
        log.info(
            "refused unstorable input on %s %s: %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__,
        )
        detail = gettext(
            "Part of the request cannot be stored (a NUL character or an out-of-range number)."
        )
        if wants_json(request):
            return JSONResponse({"detail": detail}, status_code=422)
        return render(request, "error.html", status_code=422, status=422, detail=detail)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The browser went away while sending the body (a cancelled request, a closed
        # tab): nothing to answer and nothing wrong on our side. 499, as nginx logs it.
        log.info("client went away during %s %s", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_json(request):
            return JSONResponse({"detail": "Something went wrong on our side."}, status_code=500)
        return render(
            request,
            "error.html",
            status_code=500,
            status=500,
            detail="Something went wrong on our side. Please try again shortly.",
        )

    @app.get("/healthz", tags=["operations"], summary="Database and broker health, and modes")
    def healthz(session: db.SessionDep) -> JSONResponse:
        report: dict[str, object] = {"mail": settings.mail_kind, "payments": settings.payments_kind}
        healthy = True
        for part, kind, check in (
            # Through the request's own session: with a session cookie, SQLite's write
            # lock is already this request's, and a second connection would wait on it.
            ("database", settings.database_kind, lambda: session.exec(text("SELECT 1"))),
            ("broker", settings.broker_kind, jobs.ping_broker),
        ):
            try:
                check()
                report[part] = {"kind": kind, "ok": True}
            except Exception as exc:
                healthy = False
                report[part] = {"kind": kind, "ok": False, "error": type(exc).__name__}
        report["status"] = "ok" if healthy else "unavailable"
        return JSONResponse(report, status_code=200 if healthy else 503)

    # Members, accounts and logging in.
    templates.env.globals["current_account"] = account_for_template
    app.add_exception_handler(LoginRequired, login_required_response)
    for router in (
        # FastAPI tries routes in this order, some 2 µs each (a router that matches is
        # tried twice): what the public sends by the thousand comes first, signups
        # from members' sites, confirmations, unsubscribes and the relay's bounce
        # reports, so none of them pays for 160 routes it is not. Any order is safe
        # while no route takes another's paths (tests/test_web.py checks each route is
        # the first to match its own).
        subscribers_api.router,
        signup_pages.router,
        link_pages.router,
        preference_pages.router,
        bounce_api.router,
        observability.router,
        auth_pages.router,
        auth_api.router,
        members_pages.router,
        members_api.router,
        member_dashboard.router,
        member_admin.router,
        subscribers_admin.router,
        admin_topics.router,
        admin_people.router,
        newsletter_pages.router,
        newsletter_editor.router,
        newsletter_blocks.router,
        archive.router,
        sending_pages.router,
        marketplace_pages.router,
        marketplace_api.router,
        marketplace_admin.router,
        payment_webhooks.router,
        sharing_pages.router,
        sharing_withdrawal.router,
        recruiting_pages.router,
        consent_log_api.router,
        privacy_router,
        i18n.router,
        api_docs.router,
    ):
        app.include_router(router)

    app.openapi = lambda: openapi_with_our_errors(app)  # type: ignore[method-assign]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return render(request, "home.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # Pages link the SVG; this answers browsers and tools that ask for the classic path.
        return FileResponse(
            STATIC_DIR / "favicon.svg",
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return app
