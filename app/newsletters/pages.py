"""Admin pages for newsletters and the issue editor (Club admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session, select

from app.auth.deps import RequireAdmin
from app.config import get_settings
from app.db import SessionDep
from app.mailing.templates import fill
from app.newsletters import forms, service
from app.newsletters.models import (
    SLOT_KINDS,
    BlockKind,
    Issue,
    IssueBlock,
    IssueStatus,
    Newsletter,
    NewsletterBase,
)
from app.newsletters.render import IssueRenderError, compile_issue
from app.sending.test_copy import send_test_copy
from app.subscribers.models import Topic
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


def _newsletter(session: Session, newsletter_id: int) -> Newsletter:
    newsletter = session.get(Newsletter, newsletter_id)
    if newsletter is None:
        raise HTTPException(404, "There is no such newsletter.")
    return newsletter


def _issue(session: Session, issue_id: int) -> tuple[Issue, Newsletter]:
    issue = session.get(Issue, issue_id)
    if issue is None:
        raise HTTPException(404, "There is no such issue.")
    return issue, _newsletter(session, issue.newsletter_id)


# Newsletters -------------------------------------------------------------------------


@router.get("/newsletters", response_class=HTMLResponse)
def newsletters(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    rows = [
        (n, service.topics_of(session, n.id or 0), service.audience_estimate(session, n.id or 0))
        for n in service.list_newsletters(session)
    ]
    return render(request, "newsletters/list.html", rows=rows)


def _form_page(
    request: Request,
    session: Session,
    newsletter: Newsletter,
    topic_ids: set[int],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    topics = session.exec(select(Topic).order_by(Topic.name)).all()
    return render(
        request,
        "newsletters/form.html",
        status_code=status_code,
        newsletter=newsletter,
        topics=topics,
        chosen=topic_ids,
        errors=errors or {},
    )


def _as_shown(newsletter_id: int | None, values: dict[str, object]) -> dict[str, object]:
    """What the form shows again after an error: the input as typed (never stored)."""
    blank = NewsletterBase(name="", slug="", sender_name="", sender_address="").model_dump()
    return {**blank, **values, "id": newsletter_id}


@router.get("/newsletters/new", response_class=HTMLResponse)
def new_newsletter(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    blank = Newsletter(name="", slug="", sender_name="Co-op Data Club", sender_address="")
    return _form_page(request, session, blank, set())


@router.get("/newsletters/{newsletter_id}/edit", response_class=HTMLResponse)
def edit_newsletter(
    request: Request, newsletter_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    newsletter = _newsletter(session, newsletter_id)
    chosen = {t.id for t in service.topics_of(session, newsletter_id) if t.id}
    return _form_page(request, session, newsletter, chosen)


@router.post("/newsletters/new", dependencies=[CsrfProtected])
@router.post("/newsletters/{newsletter_id}/edit", dependencies=[CsrfProtected])
async def save_newsletter(
    request: Request, session: SessionDep, admin: RequireAdmin, newsletter_id: int | None = None
) -> Response:
    existing = _newsletter(session, newsletter_id) if newsletter_id else None
    form = await request.form()
    topic_ids = {int(v) for v in form.getlist("topics") if str(v).isdigit()}
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    values, errors = forms.read_newsletter_form(session, fields, newsletter_id=newsletter_id)
    if errors:
        shown = _as_shown(newsletter_id, values)
        return _form_page(request, session, shown, topic_ids, errors, 422)
    newsletter = existing or Newsletter.model_validate(values)
    newsletter.sqlmodel_update(values)
    try:
        service.save_newsletter(session, newsletter, topic_ids=sorted(topic_ids))
    except service.NewsletterError as exc:
        session.rollback()
        shown = _as_shown(newsletter_id, values)
        return _form_page(request, session, shown, topic_ids, {exc.field or "form": str(exc)}, 422)
    return redirect(f"/admin/newsletters/{newsletter.id}", f"Saved “{newsletter.name}”.")


@router.get("/newsletters/{newsletter_id}", response_class=HTMLResponse)
def newsletter_detail(
    request: Request, newsletter_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    newsletter = _newsletter(session, newsletter_id)
    return render(
        request,
        "newsletters/detail.html",
        newsletter=newsletter,
        topics=service.topics_of(session, newsletter_id),
        issues=service.issues_of(session, newsletter_id),
        audience=service.audience_estimate(session, newsletter_id),
        errors={},
    )


@router.post("/newsletters/{newsletter_id}/issues", dependencies=[CsrfProtected])
def create_issue(
    request: Request,
    newsletter_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    subject: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    newsletter = _newsletter(session, newsletter_id)
    try:
        issue = service.create_issue(session, newsletter, subject=subject)
    except service.NewsletterError as exc:
        return render(
            request,
            "newsletters/detail.html",
            status_code=422,
            newsletter=newsletter,
            topics=service.topics_of(session, newsletter_id),
            issues=service.issues_of(session, newsletter_id),
            audience=service.audience_estimate(session, newsletter_id),
            errors={"subject": str(exc)},
        )
    return redirect(f"/admin/issues/{issue.id}", "Issue created: now write it.")


# The issue editor --------------------------------------------------------------------


def _editor(
    request: Request,
    session: Session,
    issue: Issue,
    newsletter: Newsletter,
    *,
    errors: dict[str, str] | None = None,
    block_errors: dict[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    blocks = service.blocks_of(session, issue.id or 0)
    problems: dict[int, str] = dict(block_errors or {})
    text_preview = ""
    if not problems:
        try:
            _, text_preview = service.preview(session, issue)
        except IssueRenderError as exc:
            problems = {p.position: p.message for p in exc.problems}
    return render(
        request,
        "newsletters/editor.html",
        status_code=status_code,
        issue=issue,
        newsletter=newsletter,
        blocks=blocks,
        problems=problems,
        errors=errors or {},
        text_preview=text_preview,
        audience=service.audience_estimate(session, newsletter.id or 0),
        timezones=COMMON_TIMEZONES,
        block_kinds=[k for k in BlockKind],
        slot_kinds=SLOT_KINDS,
        editable=issue.status == IssueStatus.draft,
    )


def _block_problems(
    request: Request, session: Session, issue: Issue, newsletter: Newsletter, exc: IssueRenderError
) -> Response:
    """The editor again, 422, with each problem next to its block (nothing typed is lost)."""
    return _editor(
        request,
        session,
        issue,
        newsletter,
        status_code=422,
        block_errors={p.position: p.message for p in exc.problems},
    )


@router.get("/issues/{issue_id}", response_class=HTMLResponse)
def issue_editor(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    issue, newsletter = _issue(session, issue_id)
    return _editor(request, session, issue, newsletter)


def _block_inputs(form: dict[str, str], blocks: list[IssueBlock]) -> list[service.BlockInput]:
    return [
        service.BlockInput(
            id=b.id or 0,
            **{
                f: str(form.get(f"block-{b.id}-{f}", getattr(b, f)))
                for f in ("heading", "body", "url", "alt", "label")
            },
        )
        for b in blocks
    ]


@router.post("/issues/{issue_id}", dependencies=[CsrfProtected])
async def save_issue(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    issue, newsletter = _issue(session, issue_id)
    form = {k: str(v) for k, v in (await request.form()).items()}
    blocks = list(service.blocks_of(session, issue_id))
    try:
        service.update_issue(
            session,
            issue,
            subject=form.get("subject", ""),
            preheader=form.get("preheader", ""),
            blocks=_block_inputs(form, blocks),
        )
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.NewsletterError as exc:
        return _editor(
            request,
            session,
            issue,
            newsletter,
            errors={exc.field or "form": str(exc)},
            status_code=422,
        )
    try:
        service.compile_for(session, issue)
    except IssueRenderError as exc:
        # Saved as typed (nothing is lost), with each problem shown next to its block.
        return _block_problems(request, session, issue, newsletter, exc)
    return redirect(f"/admin/issues/{issue_id}", "Draft saved.")


@router.post("/issues/{issue_id}/preview", dependencies=[CsrfProtected])
async def live_preview(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    """Render the editor's unsaved form: nothing is stored."""
    issue, newsletter = _issue(session, issue_id)
    form = {k: str(v) for k, v in (await request.form()).items()}
    draft = Issue(
        **issue.model_dump(exclude={"subject", "preheader"}),
        subject=form.get("subject", issue.subject),
        preheader=form.get("preheader", issue.preheader),
    )
    blocks = []
    for b in service.blocks_of(session, issue_id):
        copy = IssueBlock(**b.model_dump())
        for f in ("heading", "body", "url", "alt", "label"):
            if f"block-{b.id}-{f}" in form:
                setattr(copy, f, form[f"block-{b.id}-{f}"])
        blocks.append(copy)
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
    issue, _ = _issue(session, issue_id)
    try:
        html, _ = service.preview(session, issue)
    except IssueRenderError as exc:
        return HTMLResponse(f"<p>This issue cannot be shown yet: {exc}</p>", status_code=422)
    return HTMLResponse(html)


@router.post("/issues/{issue_id}/blocks", dependencies=[CsrfProtected])
def add_block(
    issue_id: int, session: SessionDep, admin: RequireAdmin, kind: Annotated[BlockKind, Form()]
) -> Response:
    issue, _ = _issue(session, issue_id)
    try:
        service.add_block(session, issue, kind)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(f"/admin/issues/{issue_id}", f"Added a {kind.value} block at the end.")


@router.post("/issues/{issue_id}/blocks/{block_id}/delete", dependencies=[CsrfProtected])
def remove_block(
    issue_id: int, block_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    issue, _ = _issue(session, issue_id)
    try:
        service.remove_block(session, issue, block_id)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.NewsletterError as exc:
        return redirect(f"/admin/issues/{issue_id}", str(exc), "error")
    return redirect(f"/admin/issues/{issue_id}", "Block removed.")


@router.post("/issues/{issue_id}/blocks/{block_id}/move", dependencies=[CsrfProtected])
def move_block(
    issue_id: int,
    block_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    direction: Annotated[str, Form()] = "down",
) -> Response:
    issue, _ = _issue(session, issue_id)
    try:
        service.move_block(session, issue, block_id, -1 if direction == "up" else 1)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.NewsletterError as exc:
        return redirect(f"/admin/issues/{issue_id}", str(exc), "error")
    return redirect(f"/admin/issues/{issue_id}#block-{block_id}")


@router.post("/issues/{issue_id}/test", dependencies=[CsrfProtected])
def send_test(issue_id: int, session: SessionDep, admin: RequireAdmin) -> Response:
    issue, _ = _issue(session, issue_id)
    try:
        send_test_copy(session, issue, to=admin.email)
    except IssueRenderError as exc:
        return redirect(f"/admin/issues/{issue_id}", f"Fix the issue first: {exc}", "error")
    return redirect(f"/admin/issues/{issue_id}", f"A test copy is on its way to {admin.email}.")


@router.post("/issues/{issue_id}/schedule", dependencies=[CsrfProtected])
def schedule(
    request: Request,
    issue_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    when: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "UTC",
) -> Response:
    issue, newsletter = _issue(session, issue_id)
    try:
        send_at = service.parse_schedule(when, timezone)
        service.schedule(session, issue, send_at=send_at, timezone=timezone)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.NewsletterError as exc:
        return _editor(
            request,
            session,
            issue,
            newsletter,
            status_code=422,
            errors={exc.field or "when": str(exc)},
        )
    except IssueRenderError as exc:
        return _block_problems(request, session, issue, newsletter, exc)
    return redirect(
        f"/admin/issues/{issue_id}",
        f"Scheduled for {when.replace('T', ' ')} ({timezone}). The content is now frozen.",
    )


@router.post("/issues/{issue_id}/unschedule", dependencies=[CsrfProtected])
def unschedule(issue_id: int, session: SessionDep, admin: RequireAdmin) -> Response:
    issue, _ = _issue(session, issue_id)
    try:
        service.return_to_draft(session, issue)
    except service.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(f"/admin/issues/{issue_id}", "Back to draft: you can edit it again.")
