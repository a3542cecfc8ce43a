"""The public archive: sent issues on the web (no personal links) and an Atom feed."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from feedgen.feed import FeedGenerator
from sqlmodel import select

from app.config import get_settings
from app.db import SessionDep
from app.i18n import gettext
from app.newsletters import service
from app.newsletters.models import Issue, IssueStatus, Newsletter
from app.web import render

router = APIRouter(prefix="/archive", tags=["archive"])


def _newsletter(session: SessionDep, slug: str, *, listed: bool = True) -> Newsletter:
    """A newsletter by slug; a member's mailings newsletter only where `listed` is False
    (one issue's web version, reached by its link)."""
    newsletter = service.get_by_slug(session, slug)
    if newsletter is None or (listed and not service.in_archive(newsletter)):
        raise HTTPException(404, gettext("There is no newsletter with that name."))
    return newsletter


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def all_newsletters(request: Request, session: SessionDep) -> Response:
    newsletters = [
        (n, len(service.sent_issues(session, n.id or 0))) for n in service.list_newsletters(session)
    ]
    return render(request, "newsletters/archive_index.html", newsletters=newsletters)


@router.get("/{slug}", response_class=HTMLResponse, include_in_schema=False)
def newsletter_archive(request: Request, slug: str, session: SessionDep) -> Response:
    newsletter = _newsletter(session, slug)
    return render(
        request,
        "newsletters/archive.html",
        newsletter=newsletter,
        issues=service.sent_issues(session, newsletter.id or 0),
    )


@router.get(
    "/{slug}/feed.atom",
    summary="Atom feed of a newsletter's sent issues",
    responses={
        200: {"content": {"application/atom+xml": {}}},
        404: {"description": "No newsletter at this slug"},
    },
)
def feed(slug: str, session: SessionDep) -> Response:
    newsletter = _newsletter(session, slug)
    base = get_settings().base_url
    generator = FeedGenerator()
    generator.id(f"{base}/archive/{newsletter.slug}")
    generator.title(newsletter.name)
    generator.subtitle(newsletter.description or newsletter.name)
    generator.link(href=f"{base}/archive/{newsletter.slug}", rel="alternate")
    generator.link(href=f"{base}/archive/{newsletter.slug}/feed.atom", rel="self")
    generator.author(name=newsletter.sender_name)
    generator.language("en")
    issues = service.sent_issues(session, newsletter.id or 0)
    for issue in reversed(issues):  # feedgen prepends: oldest first gives newest on top
        url = service.web_url(newsletter, issue)
        entry = generator.add_entry()
        entry.id(url)
        entry.title(issue.subject)
        entry.link(href=url)
        entry.summary(issue.preheader or issue.subject)
        entry.published(issue.sent_at)
        entry.updated(issue.sent_at)
    # The feed changed when its latest issue went out (never "now": readers would
    # think something new arrived on every poll).
    generator.updated(max((i.sent_at for i in issues if i.sent_at), default=newsletter.created_at))
    return Response(generator.atom_str(pretty=True), media_type="application/atom+xml")


@router.get("/{slug}/{number}", response_class=HTMLResponse, include_in_schema=False)
def issue_web_version(slug: str, number: int, session: SessionDep) -> Response:
    newsletter = _newsletter(session, slug, listed=False)
    issue = session.exec(
        select(Issue).where(
            Issue.newsletter_id == newsletter.id,
            Issue.number == number,
            Issue.status == IssueStatus.sent,
        )
    ).first()
    if issue is None:
        raise HTTPException(404, gettext("That issue has not been published."))
    if service.in_archive(newsletter):
        return HTMLResponse(service.web_version(issue))
    return HTMLResponse(
        service.web_version(issue, noindex=True), headers={"X-Robots-Tag": "noindex"}
    )
