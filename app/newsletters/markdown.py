"""Editorial Markdown: sanitised HTML for the email and the web, plain text for the twin.

Both come from the same Markdown source, so the text twin says what the HTML says
without scraping it. Raw HTML in Markdown is not rendered, and nh3 removes anything
that is not plain formatting, so neither an admin slip nor a member's creative can
carry script, styles or tracking into an email or a page.
"""

from __future__ import annotations

import textwrap

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "a",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "code",
    "pre",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def to_html(source: str) -> str:
    html = _md.render(source)
    # Headings inside a newsletter block start at h2; the issue subject is the h1.
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"https", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()


def _inline_text(token: Token) -> str:
    out: list[str] = []
    href: str | None = None
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "link_open":
            href = str(child.attrGet("href") or "")
        elif child.type == "link_close" and href:
            out.append(f" ({href})")
            href = None
        elif child.type == "image":
            out.append(child.content or "")
    return "".join(out)


def to_text(source: str, width: int = 72) -> str:
    """A readable plain-text rendering: paragraphs wrapped, links as 'label (url)'."""
    lines: list[str] = []
    prefix: list[str] = []
    ordinal: list[int] = []
    for token in _md.parse(source):
        if token.type == "bullet_list_open":
            prefix.append("- ")
            ordinal.append(0)
        elif token.type == "ordered_list_open":
            prefix.append("#")
            ordinal.append(0)
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            prefix.pop()
            ordinal.pop()
            lines.append("")
        elif token.type == "list_item_open" and ordinal:
            ordinal[-1] += 1
        elif token.type == "inline":
            text = _inline_text(token)
            if prefix:
                marker = prefix[-1] if prefix[-1] != "#" else f"{ordinal[-1]}. "
                indent = "  " * (len(prefix) - 1)
                wrapped = textwrap.wrap(text, width - len(indent) - len(marker)) or [""]
                lines.append(indent + marker + wrapped[0])
                lines.extend(indent + " " * len(marker) + rest for rest in wrapped[1:])
            elif token.map is not None and lines and lines[-1].startswith("\x00h"):
                lines[-1] = text
                lines.append("-" * min(len(text), width))
                lines.append("")
            else:
                lines.extend(textwrap.fill(p, width) for p in text.split("\n"))
                lines.append("")
        elif token.type == "heading_open":
            lines.append("\x00h")
        elif token.type == "fence" or token.type == "code_block":
            lines.extend(token.content.rstrip("\n").split("\n"))
            lines.append("")
        elif token.type == "hr":
            lines.extend(["* * *", ""])
    return "\n".join(line for line in lines if line != "\x00h").strip()
