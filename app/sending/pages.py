"""Admin controls for sending an issue: start, pause, resume, cancel; live progress;
the delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlmodel import Session, col

from app import admin_labels, charts  # noqa: F401  (admin_labels: the state names its page shows)
from app.auth.deps import RequireAdmin
from app.confirmation import Confirmation, PostedForm, for_templates, unless_confirmed
from app.db import SessionDep, utcnow
from app.i18n import gettext as _
from app.i18n import ngettext
from app.newsletters.models import Issue, IssueStatus, Newsletter
from app.newsletters.service import audience_estimate
from app.sending import lifecycle
from app.sending.assembly import progress
from app.sending.models import Delivery, DeliveryStatus
from app.subscribers.models import Subscriber
from app.web import CsrfProtected, redirect, render

router = APIRouter(include_in_schema=False)

LOG_PAGE = 100


def _issue(session: Session, issue_id: int) -> tuple[Issue, Newsletter]:
    issue = session.get(Issue, issue_id)
    newsletter = session.get(Newsletter, issue.newsletter_id) if issue else None
    if issue is None or newsletter is None:
        raise HTTPException(404, _("There is no such issue."))
    return issue, newsletter


def progress_report(session: Session, issue: Issue) -> dict[str, object]:
    counts = progress(session, issue.id or 0)
    total = sum(counts.values())
    done = sum(
        counts[s] for s in ("sent", "failed", "bounced", "complained", "skipped", "cancelled")
    )
    remaining = counts["queued"] + counts["sending"]
    eta_seconds = None
    if issue.status == IssueStatus.sending and issue.send_started_at and counts["sent"]:
        elapsed = (utcnow() - issue.send_started_at).total_seconds()
        rate = counts["sent"] / max(elapsed, 1e-3)
        eta_seconds = int(remaining / rate) if rate > 0 else None
    return {
        "status": issue.status.value,
        "assembled": issue.assembly_done,
        "total": total,
        "done": done,
        "percent": round(100 * done / total, 1)
        if total
        else (100.0 if issue.status == IssueStatus.sent else 0.0),
        "counts": counts,
        "eta_seconds": eta_seconds,
        "pause_reason": issue.pause_reason,
    }


@router.get("/admin/issues/{issue_id}/sending", response_class=HTMLResponse)
def sending_page(
    request: Request,
    issue_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    status: str | None = None,
    after: int = 0,
) -> Response:
    issue, newsletter = _issue(session, issue_id)
    query = (
        select(Delivery, Subscriber.email)
        .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id), isouter=True)
        .where(col(Delivery.issue_id) == issue_id, col(Delivery.id) > after)
        .order_by(col(Delivery.id))
        .limit(LOG_PAGE)
    )
    if status:
        if status not in DeliveryStatus.__members__:
            raise HTTPException(422, f"unknown status filter {status!r}")
        query = query.where(col(Delivery.status) == status)
    log = session.execute(query).all()
    report = progress_report(session, issue)
    return render(
        request,
        "sending/issue.html",
        issue=issue,
        newsletter=newsletter,
        report=report,
        audience=audience_estimate(session, newsletter.id or 0)
        if issue.status == IssueStatus.scheduled
        else 0,
        delivery_chart=delivery_chart(report),
        log=log,
        status_filter=status,
        statuses=[s.value for s in DeliveryStatus],
        next_after=log[-1][0].id if len(log) == LOG_PAGE else None,
    )


def delivery_chart(report: dict[str, object]) -> Markup | None:
    """Deliveries by outcome as bars; none before the audience is assembled."""
    counts: dict[str, int] = report["counts"]  # type: ignore[assignment]
    if not report["total"]:
        return None
    bars = [
        charts.Bar(_("Sent"), counts["sent"], 2),
        charts.Bar(_("Failed"), counts["failed"], 1),
        charts.Bar(_("Bounced"), counts["bounced"] + counts["complained"], 3),
        charts.Bar(_("Skipped"), counts["skipped"], 4),
        charts.Bar(_("Still queued"), counts["queued"] + counts["sending"], 5),
    ]
    if counts["cancelled"]:
        bars.append(charts.Bar(_("Cancelled"), counts["cancelled"], 6))
    return charts.bar_chart(title=_("Deliveries of this issue by outcome"), bars=bars)


def _people(n: int) -> str:
    return ngettext("%(num)s person", "%(num)s people", n)


@for_templates
def start_confirmation(issue: Issue, audience: int) -> Confirmation:
    return Confirmation(
        title=_(
            "Send “%(subject)s” to %(people)s now?", subject=issue.subject, people=_people(audience)
        ),
        message=_(
            "About %(people)s on this newsletter's topics will receive it (the audience is "
            "counted again as sending starts). Once an email has gone out, it cannot be "
            "called back; you can pause or cancel the rest.",
            people=_people(audience),
        ),
        button=_("Start sending to %(people)s", people=_people(audience)),
        back=f"/admin/issues/{issue.id}/sending",
    )


@for_templates
def cancel_confirmation(issue: Issue) -> Confirmation:
    return Confirmation(
        title=_("Cancel “%(subject)s” for good?", subject=issue.subject),
        message=_(
            "Nobody who has not received it yet will receive it. Emails already sent "
            "stay sent. A cancelled issue cannot be resumed or scheduled again."
        ),
        button=_("Cancel this issue"),
        back=f"/admin/issues/{issue.id}/sending",
    )


@router.get("/admin/issues/{issue_id}/progress.json")
def progress_json(issue_id: int, session: SessionDep, admin: RequireAdmin) -> JSONResponse:
    issue, _newsletter = _issue(session, issue_id)
    return JSONResponse(progress_report(session, issue))


@router.post("/admin/issues/{issue_id}/sending", dependencies=[CsrfProtected])
def control(
    request: Request,
    issue_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    form: PostedForm,
    action: Annotated[str, Form()],
) -> Response:
    issue, newsletter = _issue(session, issue_id)
    actions = {
        "start": (lifecycle.start, _("Sending has started.")),
        "pause": (lifecycle.pause, _("Paused: batches already running finish, the rest wait.")),
        "resume": (lifecycle.resume, _("Resumed.")),
        "cancel": (lifecycle.cancel, _("Cancelled: nobody else will receive this issue.")),
    }
    if action not in actions:
        raise HTTPException(422, f"unknown action {action!r}")
    do, message = actions[action]
    irreversible = {
        "start": lambda: start_confirmation(issue, audience_estimate(session, newsletter.id or 0)),
        "cancel": lambda: cancel_confirmation(issue),
    }
    if action in irreversible:
        page = unless_confirmed(request, form, irreversible[action]())
        if page is not None:
            return page
    try:
        do(session, issue)
    except lifecycle.IssueStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(f"/admin/issues/{issue_id}/sending", message)
