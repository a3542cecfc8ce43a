"""What every HTML page shares: the Jinja2 environment over templates/ and rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.config import get_settings

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
STATIC_DIR = TEMPLATES_DIR / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["club_name"] = "Co-op Data Club"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("settings", get_settings())
    return templates.TemplateResponse(request, name, context, status_code=status_code)
