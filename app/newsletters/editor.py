"""The issue editor (Club admins only): write, preview, rearrange, test and schedule.

Every button of the editor submits the whole editor form, so each action first saves
what was typed and then does its thing: moving, adding or removing a block, sending a
test or scheduling never throws away unsaved text. When what was typed cannot be saved
(an empty subject), the editor comes back with the typed text and the problem, and the
action waits. Removing a block asks first and can be undone; slot blocks with a live
booking are moved or removed only through the marketplace (app/marketplace/layout.py).
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from app import admin_labels  # noqa: F401  (the state names the editor shows)
from app.auth.deps import RequireAdmin
from app.config import get_settings
from app.confirmation import PostedForm
from app.db import SessionDep
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.mailing.templates import fill
from app.marketplace import layout
from app.newsletters import blocks as issue_blocks
from app.newsletters import service
from app.newsletters.models import SLOT_KINDS, BlockKind, Issue, IssueBlock, IssueStatus, Newsletter
from app.newsletters.render import IssueRenderError, compile_issue
from app.sending.test_copy import send_test_copy
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)

COMMON_TIMEZONES = [
    "UTC",
    "America/Toronto",
    "America/Halifax",
    "America/Winnipeg",
    "America/Edmonton",
    "America/Vancouver",
    "America/St_Johns",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
]
KIND_NAMES = {
    "text": lazy_gettext("Text"),
    "image": lazy_gettext("Image"),
    "button": lazy_gettext("Button"),
    "sponsor": lazy_gettext("Sponsor slot"),
    "classified": lazy_gettext("Classified slot"),
}


def issue_and_newsletter(session: Session, issue_id: int) -> tuple[Issue, Newsletter]:
    issue = session.get(Issue, issue_id)
    newsletter = session.get(Newsletter, issue.newsletter_id) if issue else None
    if issue is None or newsletter is None:
        raise HTTPException(404, _("There is no such issue."))
    return issue, newsletter


def _as_typed(
    session: Session, issue: Issue, form: FormData | None
) -> tuple[Issue, list[IssueBlock]]:
    """The issue and its blocks as the form shows them (copies: nothing is stored)."""
    saved = service.blocks_of(session, issue.id or 0)
    if form is None:
        return issue, list(saved)
    draft = Issue(
        **issue.model_dump(exclude={"subject", "preheader"}),
        subject=str(form.get("subject", issue.subject)),
        preheader=str(form.get("preheader", issue.preheader)),
    )
    shown = []
    for block in saved:
        copy = IssueBlock(**block.model_dump())
        for field in issue_blocks.CONTENT_FIELDS:
            value = form.get(f"block-{block.id}-{field}")
            if isinstance(value, str):
                setattr(copy, field, value)
        shown.append(copy)
    return draft, shown


def render_problems(
    request: Request,
    session: Session,
    issue: Issue,
    newsletter: Newsletter,
    exc: IssueRenderError,
    **extra: Any,
) -> Response:
    """The editor again (422) with each block's rendering problem next to it."""
    return editor_page(
        request,
        session,
        issue,
        newsletter,
        status_code=422,
        block_errors={p.position: p.message for p in exc.problems},
        **extra,
    )


def editor_page(
    request: Request,
    session: Session,
    issue: Issue,
    newsletter: Newsletter,
    *,
    typed: FormData | None = None,
    errors: dict[str, str] | None = None,
    block_errors: dict[int, str] | None = None,
    schedule: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    shown_issue, blocks = _as_typed(session, issue, typed)
    problems: dict[int, str] = dict(block_errors or {})
    text_preview = ""
    if not problems:
        try:
            _html, text_preview = service.preview(session, issue)
        except IssueRenderError as exc:
            problems = {p.position: p.message for p in exc.problems}
    removed = request.query_params.get("removed", "")
    undo = None
    if removed.isdigit() and issue.status == IssueStatus.draft:
        candidate = session.get(IssueBlock, int(removed))
        if candidate and candidate.issue_id == issue.id and candidate.removed_at is not None:
            undo = candidate
    return render(
        request,
        "newsletters/editor.html",
        status_code=status_code,
        issue=shown_issue,
        newsletter=newsletter,
        blocks=blocks,
        booked=layout.booked_blocks(session, issue),
        undo=undo,
        problems=problems,
        errors=errors or {},
        text_preview=text_preview,
        audience=service.audience_estimate(session, newsletter.id or 0),
        timezones=COMMON_TIMEZONES,
        schedule=schedule or {"when": "", "timezone": issue.timezone},
        kind_names=KIND_NAMES,
        block_kinds=list(BlockKind),
        slot_kinds=SLOT_KINDS,
        editable=issue.status == IssueStatus.draft,
    )


def save_typed(
    request: Request, session: Session, issue: Issue, newsletter: Newsletter, form: FormData
) -> Response | None:
    """Store what the editor form holds; the editor with the problem if it cannot be."""
    blocks = service.blocks_of(session, issue.id or 0)
    changes = [
        service.BlockInput(
            id=b.id or 0,
            **{
                f: str(form.get(f"block-{b.id}-{f}", getattr(b, f)))
                for f in issue_blocks.CONTENT_FIELDS
            },
        )
        for b in blocks
    ]
    try:
        service.update_issue(
            session,
            issue,
            subject=str(form.get("subject", issue.subject)),
            preheader=str(form.get("preheader", issue.preheader)),
            blocks=changes,
        )
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.NewsletterError as exc:
        return editor_page(
            request,
            session,
            issue,
            newsletter,
            typed=form,
            errors={exc.field or "form": str(exc)},
            status_code=422,
        )
    return None


def save_if_draft(
    request: Request, session: Session, issue: Issue, newsletter: Newsletter, form: FormData
) -> Response | None:
    """For actions that also work on frozen issues: save the typed form of a draft."""
    if issue.status != IssueStatus.draft or "subject" not in form:
        return None
    return save_typed(request, session, issue, newsletter, form)


@router.get("/issues/{issue_id}", response_class=HTMLResponse)
def issueeditor_page(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    return editor_page(request, session, issue, newsletter)


@router.post("/issues/{issue_id}", dependencies=[CsrfProtected])
def save_issue(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin, form: PostedForm
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_typed(request, session, issue, newsletter, form)) is not None:
        return problem
    try:
        service.compile_for(session, issue)
    except IssueRenderError as exc:
        # Saved as typed (nothing is lost), with each problem shown next to its block.
        return render_problems(request, session, issue, newsletter, exc)
    return redirect(f"/admin/issues/{issue_id}", _("Draft saved."))


@router.post("/issues/{issue_id}/preview", dependencies=[CsrfProtected])
def live_preview(
    issue_id: int, session: SessionDep, admin: RequireAdmin, form: PostedForm
) -> Response:
    """Render the editor's unsaved form: nothing is stored."""
    issue, newsletter = issue_and_newsletter(session, issue_id)
    draft, blocks = _as_typed(session, issue, form)
    try:
        html, text = compile_issue(
            newsletter=newsletter,
            issue=draft,
            blocks=blocks,
            topic_names=[t.name for t in service.topics_of(session, newsletter.id or 0)],
            web_url=service.web_url(newsletter, issue),
        )
    except IssueRenderError as exc:
        return JSONResponse({"problems": {p.position: p.message for p in exc.problems}})
    html, text = fill(
        html, text, postal_address=get_settings().postal_address, **service.SAMPLE_PERSON
    )
    return JSONResponse({"html": html, "text": text, "problems": {}})


@router.get("/issues/{issue_id}/preview.html", response_class=HTMLResponse)
def preview_html(issue_id: int, session: SessionDep, admin: RequireAdmin) -> Response:
    issue, _newsletter = issue_and_newsletter(session, issue_id)
    try:
        html, _text = service.preview(session, issue)
    except IssueRenderError as exc:
        problem = _("This issue cannot be shown yet: %(problem)s", problem=str(exc))
        return HTMLResponse(f"<p>{escape(problem)}</p>", status_code=422)
    return HTMLResponse(html)


# The whole issue ------------------------------------------------------------------------


@router.post("/issues/{issue_id}/duplicate", dependencies=[CsrfProtected])
def duplicate(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin, form: PostedForm
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_if_draft(request, session, issue, newsletter, form)) is not None:
        return problem
    copy = issue_blocks.duplicate_issue(session, issue)
    return redirect(
        f"/admin/issues/{copy.id}",
        _(
            "Issue %(copy)s is a new draft copied from issue %(number)s.",
            copy=copy.number,
            number=issue.number,
        ),
    )


@router.post("/issues/{issue_id}/test", dependencies=[CsrfProtected])
def send_test(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin, form: PostedForm
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_if_draft(request, session, issue, newsletter, form)) is not None:
        return problem
    try:
        send_test_copy(session, issue, to=admin.email)
    except IssueRenderError as exc:
        return redirect(
            f"/admin/issues/{issue_id}",
            _("Fix the issue first: %(problem)s", problem=str(exc)),
            "error",
        )
    return redirect(
        f"/admin/issues/{issue_id}", _("A test copy is on its way to %(email)s.", email=admin.email)
    )


@router.post("/issues/{issue_id}/schedule", dependencies=[CsrfProtected])
def schedule(
    request: Request,
    issue_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    form: PostedForm,
    when: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "UTC",
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_typed(request, session, issue, newsletter, form)) is not None:
        return problem
    typed_schedule = {"when": when, "timezone": timezone}
    try:
        send_at = service.parse_schedule(when, timezone)
        service.schedule(session, issue, send_at=send_at, timezone=timezone)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.NewsletterError as exc:
        return editor_page(
            request,
            session,
            issue,
            newsletter,
            status_code=422,
            errors={exc.field or "when": str(exc)},
            schedule=typed_schedule,
        )
    except IssueRenderError as exc:
        return render_problems(request, session, issue, newsletter, exc, schedule=typed_schedule)
    return redirect(
        f"/admin/issues/{issue_id}",
        _(
            "Scheduled for %(when)s (%(timezone)s). The content is now frozen.",
            when=when.replace("T", " "),
            timezone=timezone,
        ),
    )


@router.post("/issues/{issue_id}/unschedule", dependencies=[CsrfProtected])
def unschedule(issue_id: int, session: SessionDep, admin: RequireAdmin) -> Response:
    issue, _newsletter = issue_and_newsletter(session, issue_id)
    try:
        service.return_to_draft(session, issue)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(f"/admin/issues/{issue_id}", _("Back to draft: you can edit it again."))
