"""The embeddable directory: a member (or anyone) pastes an iframe that shows a fixed,
filtered slice of the directory (e.g. worker co-ops in Quebec) with a search box.

/members/embed/view is the only directory page other sites may frame (see
app/security.py); the snippet's script, served by the Club, sizes the iframe to its
content and tells it whether the embedding page is light or dark.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from app.config import get_settings
from app.members.directory import DirectoryQuery

FILTERS = ("kind", "sector", "country", "region", "language", "sort")
TITLE = "Member co-ops of Co-op Data Club"


def fixed_filters(query: DirectoryQuery) -> dict[str, str]:
    """What the snippet pins (everything but the visitor's search words)."""
    return {k: v for k, v in query.params().items() if k in FILTERS}


def view_url(query: DirectoryQuery) -> str:
    params = fixed_filters(query)
    base = f"{get_settings().base_url.rstrip('/')}/members/embed/view"
    return f"{base}?{urlencode(params)}" if params else base


def snippet(query: DirectoryQuery) -> str:
    base = get_settings().base_url.rstrip("/")
    return (
        f'<iframe src="{escape(view_url(query))}" title="{TITLE}" data-coopclub-directory '
        'loading="lazy" style="width:100%;height:36rem;border:0"></iframe>\n'
        f'<script src="{escape(base)}/static/directory-embed.js" async></script>'
    )
