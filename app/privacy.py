"""The privacy page (/privacy), generated from SECURITY.md's "What we keep" and "What we
never keep", so the page people read and the document the project is held to cannot
drift apart. Consent receipts name this page as their policy."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt
from markupsafe import Markup

from app.web import render

SECURITY_MD = Path(__file__).resolve().parents[1] / "SECURITY.md"
SECTIONS = ("What we keep", "What we never keep")

router = APIRouter(include_in_schema=False)


def sections(text: str) -> dict[str, str]:
    """The Markdown under each `## heading` of the document."""
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.MULTILINE)
    return {heading: body.strip() for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


@lru_cache(maxsize=1)
def privacy_sections() -> list[tuple[str, Markup]]:
    # Our own document, rendered with raw HTML off all the same.
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    found = sections(SECURITY_MD.read_text(encoding="utf-8"))
    return [
        (name, Markup(markdown.render(found[name])))  # noqa: S704 (html off: escaped)
        for name in SECTIONS
    ]


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request) -> HTMLResponse:
    return render(request, "public/privacy.html", sections=privacy_sections())
