"""The API documentation page, /docs (Swagger UI), with its script and styles served by
this app from the fastapi-offline package (Swagger UI is Apache-2.0), so it works without
internet and under our own CSP: no CDN, no web fonts, only its one inline start-up script
(allowed by its hash in app/security.py).

There is no /redoc: ReDoc always fetches its logo from cdn.redoc.ly and its generated
markup fails axe-core (an unlabelled <select>, low-contrast styles we cannot reach), so
it could be neither offline nor accessible. /docs is the one way in; the raw schema is
/openapi.json."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

ASSETS_URL = "/static/api-docs"
router = APIRouter(include_in_schema=False)


def assets_dir() -> Path | None:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "static"


def mount_assets(app: FastAPI) -> None:
    directory = assets_dir()
    if directory is None:
        # Only an install without the project's dependencies lacks it: say so, keep serving.
        log.warning("fastapi-offline is not installed: /docs answers 503")
        return
    app.mount(ASSETS_URL, StaticFiles(directory=directory), name="api-docs")


def _require_assets() -> None:
    if assets_dir() is None:
        raise HTTPException(503, "The API documentation files are not installed (make install).")


def _ours(page: HTMLResponse) -> HTMLResponse:
    """The page in our language, with our contrast fixes (static/api-docs.css) on top."""
    html = bytes(page.body).decode()
    html = html.replace("<html>", '<html lang="en">', 1).replace(
        "</head>", '<link rel="stylesheet" href="/static/api-docs.css">\n</head>', 1
    )
    return HTMLResponse(html)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    _require_assets()
    return _ours(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            # Deep links put a link inside each operation's toggle button (nested controls).
            swagger_ui_parameters={"deepLinking": False},
        )
    )
