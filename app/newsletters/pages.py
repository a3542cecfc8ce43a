"""Admin pages for newsletters and their issue lists (Club admins only; the issue editor
is app/newsletters/editor.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from app import admin_labels, charts
from app.auth.deps import RequireAdmin
from app.db import SessionDep
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.members.forms import FormDep
from app.newsletters import forms, report, service
from app.newsletters.models import (
    Issue,
    Newsletter,
    NewsletterBase,
)
from app.subscribers.models import Topic
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)

# The report chart's lines (app/newsletters/report.py names them), as the reader says them.
LINE_NAMES = {
    "Accepted by the receiving server": lazy_gettext("Accepted by the receiving server"),
    "Bounced": lazy_gettext("Bounced"),
    "Complaints": lazy_gettext("Complaints"),
    "Unsubscribed": lazy_gettext("Unsubscribed"),
}


def _newsletter(session: Session, newsletter_id: int) -> Newsletter:
    newsletter = session.get(Newsletter, newsletter_id)
    if newsletter is None:
        raise HTTPException(404, _("There is no such newsletter."))
    return newsletter


def _issue(session: Session, issue_id: int) -> tuple[Issue, Newsletter]:
    issue = session.get(Issue, issue_id)
    if issue is None:
        raise HTTPException(404, _("There is no such issue."))
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
def save_newsletter(
    request: Request,
    session: SessionDep,
    admin: RequireAdmin,
    form: FormDep,
    newsletter_id: int | None = None,
) -> Response:
    existing = _newsletter(session, newsletter_id) if newsletter_id else None
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
    return redirect(
        f"/admin/newsletters/{newsletter.id}", _("Saved “%(name)s”.", name=newsletter.name)
    )


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
    return redirect(f"/admin/issues/{issue.id}", _("Issue created: now write it."))


# The per-issue report ----------------------------------------------------------------


@router.get("/issues/{issue_id}/report", response_class=HTMLResponse)
def issue_report(
    request: Request, issue_id: int, session: SessionDep, admin: RequireAdmin
) -> Response:
    issue, newsletter = _issue(session, issue_id)
    figures = report.issue_report(session, issue)
    timeline = figures.timeline
    chart = None
    if timeline is not None and figures.recipients:
        chart = charts.line_chart(
            title=_("This issue over time"),
            days=timeline.steps,
            series=[
                charts.Series(str(LINE_NAMES.get(name, name)), values)
                for name, values in timeline.lines.items()
            ],
            label_format=admin_labels.short_hour if timeline.hourly else admin_labels.short_day,
        )
    return render(
        request,
        "newsletters/report.html",
        issue=issue,
        newsletter=newsletter,
        report=figures,
        chart=chart,
        window_days=report.UNSUBSCRIBE_WINDOW.days,
    )
