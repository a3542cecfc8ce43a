"""The embeddable directory: a member (or anyone) pastes an iframe that shows a fixed,
filtered slice of the directory (e.g. worker co-ops in Quebec) with a search box.

/members/embed/view is the only directory page other sites may frame (see
app/security.py); the snippet's script, served by the Club, sizes the iframe to its
content and tells it whether the embedding page is light or dark. The snippet names
the directory's language (`lang=`), so a French site shows it in French to everyone
(unless a visitor chose another language with the Club's switcher).
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from app import i18n
from app.config import get_settings
from app.members.directory import DirectoryQuery

FILTERS = ("kind", "sector", "country", "region", "language", "sort")
CLUB = "Co-op Data Club"


def fixed_filters(query: DirectoryQuery) -> dict[str, str]:
    """What the snippet pins (everything but the visitor's search words)."""
    return {k: v for k, v in query.params().items() if k in FILTERS}


def view_url(query: DirectoryQuery, language: str | None = None) -> str:
    params = fixed_filters(query) | ({"lang": language} if language else {})
    base = f"{get_settings().base_url.rstrip('/')}/members/embed/view"
    return f"{base}?{urlencode(params)}" if params else base


def snippet(query: DirectoryQuery, language: str | None = None) -> str:
    """The iframe and its sizing script; the frame's title in the snippet's language."""
    base = get_settings().base_url.rstrip("/")
    with i18n.using(language):
        title = i18n.gettext("Member co-ops of %(club)s", club=CLUB)
    return (
        f'<iframe src="{escape(view_url(query, language))}" title="{escape(title)}" '
        'data-coopclub-directory loading="lazy" '
        'style="width:100%;height:36rem;border:0"></iframe>\n'
        f'<script src="{escape(base)}/static/directory-embed.js" async></script>'
    )
