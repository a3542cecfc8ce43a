"""Turning an issue's blocks into one compiled email (HTML + plain-text twin).

Compilation happens once per issue; what comes out still holds `{{ }}` placeholders
(first name, unsubscribe and preference links) that the send pipeline fills for each
recipient with `app.mailing.templates.fill`. Problems are reported per block, in words
an editor can act on, next to the block that caused them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app import i18n
from app.i18n import gettext as _
from app.mailing.templates import EmailTemplateError, compile_structured
from app.newsletters import markdown
from app.newsletters.models import BlockKind, Issue, IssueBlock, Newsletter


@dataclass(frozen=True)
class PlacedCreative:
    """A booked slot's approved creative, as it appears in the issue."""

    member_name: str
    headline: str
    body: str  # Markdown-light text from the member; sanitised here like editorial text
    click_url: str  # our counting redirect, never the member's raw link
    image_url: str | None = None


@dataclass
class BlockProblem:
    position: int
    message: str


@dataclass
class IssueRenderError(Exception):
    problems: list[BlockProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(
            _("block %(position)s: %(problem)s", position=p.position, problem=p.message)
            for p in self.problems
        )


def is_https_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.hostname)


def _prepare(block: IssueBlock, creative: PlacedCreative | None) -> dict[str, Any] | None:
    """One block ready for the templates, None for an empty optional text block, or
    ValueError with what to fix."""
    prepared: dict[str, Any] = {
        "kind": block.kind.value,
        "heading": block.heading,
        "url": block.url,
        "alt": block.alt,
        "label": block.label,
        "link": None,
        "html": "",
        "text": "",
        "creative": None,
    }
    if block.kind == BlockKind.text:
        if not block.body.strip():
            if block.required:
                raise ValueError(_("this block is required: fill it in"))
            return None
        html = markdown.to_html(block.body)
        if not markdown.nh3.clean(html, tags=set()).strip():
            raise ValueError(_("this text renders to nothing: write some text or remove the block"))
        prepared["html"] = html
        text = markdown.to_text(block.body)
        if block.heading:
            text = f"{block.heading}\n{'-' * min(len(block.heading), 72)}\n\n{text}"
        prepared["text"] = text
    elif block.kind == BlockKind.image:
        if not is_https_url(block.url):
            raise ValueError(_("an image needs an https:// address"))
        if not block.alt.strip():
            raise ValueError(_("describe the image in its alt text (people using screen readers)"))
        if block.body.strip():
            if not is_https_url(block.body.strip()):
                raise ValueError(_("an image's link must be an https:// address"))
            prepared["link"] = block.body.strip()
        link = f" {prepared['link']}" if prepared["link"] else ""
        prepared["text"] = f"[Image: {block.alt}]{link}"
    elif block.kind == BlockKind.button:
        if not block.label.strip():
            raise ValueError(_("a button needs a label"))
        if not is_https_url(block.url):
            raise ValueError(_("a button needs an https:// link"))
        prepared["text"] = f"{block.label}: {block.url}"
    elif creative is not None:  # a sponsor or classified slot with an approved creative
        html = markdown.to_html(creative.body)
        prepared["creative"] = {
            "member_name": creative.member_name,
            "headline": creative.headline,
            "html": html,
            "click_url": creative.click_url,
            "image_url": creative.image_url,
        }
        # Its label is worded in the newsletter's language, with the chrome (compile_issue).
        prepared["label_kind"] = block.kind
        prepared["text"] = (
            f"{{label}}{creative.headline}\n{markdown.to_text(creative.body)}\n{creative.click_url}"
        )
    return prepared


def compile_issue(
    *,
    newsletter: Newsletter,
    issue: Issue,
    blocks: Sequence[IssueBlock],
    topic_names: Sequence[str],
    web_url: str,
    creatives: dict[int, PlacedCreative] | None = None,
) -> tuple[str, str]:
    """Compile an issue to (html, text) with per-recipient placeholders left in."""
    creatives = creatives or {}
    problems: list[BlockProblem] = []
    prepared: list[dict[str, Any]] = []
    for block in sorted(blocks, key=lambda b: b.position):
        try:
            ready = _prepare(block, creatives.get(block.position))
            if ready is not None:
                prepared.append(ready)
        except ValueError as exc:
            problems.append(BlockProblem(block.position, str(exc)))
    if not issue.subject.strip():
        problems.append(BlockProblem(0, _("the issue needs a subject")))
    if problems:
        raise IssueRenderError(problems)
    topics = ", ".join(topic_names) if topic_names else newsletter.name
    try:
        with i18n.using(newsletter.language):  # its chrome, in the newsletter's language
            for ready in prepared:
                if "label_kind" in ready:
                    label = (
                        _("Sponsored")
                        if ready["label_kind"] == BlockKind.sponsor
                        else _("Classified")
                    )
                    member = ready["creative"]["member_name"]
                    ready["text"] = ready["text"].replace("{label}", f"[{label} · {member}]\n", 1)
            return compile_structured(
                newsletter.template,
                newsletter=newsletter,
                issue=issue,
                blocks=prepared,
                topics=topics,
                web_url=web_url,
            )
    except EmailTemplateError as exc:
        raise IssueRenderError([BlockProblem(0, str(exc))]) from exc
