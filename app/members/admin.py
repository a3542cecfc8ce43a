"""The admin area (/admin): members and their status, accounts, and applications."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import admin_labels, charts
from app.auth import service as auth_service
from app.auth.deps import RequireAdmin
from app.confirmation import Confirmation, PostedForm, for_templates, unless_confirmed
from app.db import SessionDep
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.members import history, service
from app.members.models import Member, MemberStatus
from app.subscribers.growth import topic_growth
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    days, growth, _now = topic_growth(session, days=30)
    return render(
        request,
        "admin/overview.html",
        counts=service.count_by_status(session),
        applications=service.list_members(session, status=MemberStatus.applied),
        growth_chart=charts.line_chart(
            title=_("Subscribers per topic"),
            label_format=admin_labels.short_day,
            days=days,
            series=[charts.Series(topic.name, values) for topic, values in growth],
        )
        if growth
        else None,
    )


@router.get("/members", response_class=HTMLResponse)
def members(
    request: Request, session: SessionDep, admin: RequireAdmin, status: str = ""
) -> Response:
    chosen = MemberStatus(status) if status in {s.value for s in MemberStatus} else None
    return render(
        request,
        "admin/members.html",
        members=service.list_members(session, status=chosen),
        status=chosen,
        statuses=list(MemberStatus),
    )


@router.get("/applications", response_class=HTMLResponse)
def applications(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    return render(
        request,
        "admin/applications.html",
        applications=[
            (m, service.owners(session, member_id=m.id))  # type: ignore[arg-type]
            for m in service.list_members(session, status=MemberStatus.applied)
        ],
    )


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    return render(request, "admin/accounts.html", rows=service.list_accounts(session))


def _member_or_404(session: SessionDep, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None:
        raise HTTPException(status_code=404, detail=_("There is no such member co-op."))
    return member


@router.get("/members/{member_id}", response_class=HTMLResponse)
def member_detail(
    request: Request, session: SessionDep, admin: RequireAdmin, member_id: int
) -> Response:
    member = _member_or_404(session, member_id)
    return render(
        request,
        "admin/member.html",
        member=member,
        staff=service.staff(session, member_id=member_id),
        keys=auth_service.member_keys(session, member_id=member_id),
        changes=history.changes_of(session, member_id=member_id),
    )


STATUS_ACTIONS = {
    "approve": (
        MemberStatus.active,
        lazy_gettext("%(name)s is approved; its owners have been emailed."),
    ),
    "suspend": (
        MemberStatus.suspended,
        lazy_gettext("%(name)s is suspended; its API keys are refused."),
    ),
    "reactivate": (MemberStatus.active, lazy_gettext("%(name)s is active again.")),
}


@for_templates
def suspend_confirmation(member: Member) -> Confirmation:
    return Confirmation(
        title=_("Suspend %(name)s?", name=member.name),
        message=_(
            "%(name)s's API keys stop working at once, its owners are emailed that the "
            "membership is suspended, and its people can no longer change its dashboard. "
            "You can reactivate it later, but the email cannot be taken back.",
            name=member.name,
        ),
        button=_("Suspend %(name)s", name=member.name),
        back=f"/admin/members/{member.id}",
    )


@router.post("/members/{member_id}/{action}", dependencies=[CsrfProtected])
def member_status(
    request: Request,
    session: SessionDep,
    admin: RequireAdmin,
    member_id: int,
    action: str,
    form: PostedForm,
) -> Response:
    if action not in STATUS_ACTIONS and action != "decline":
        raise HTTPException(status_code=404, detail=_("There is no such action."))
    member = _member_or_404(session, member_id)
    if action == "decline":
        try:
            service.decline(session, member=member, reason=str(form.get("reason") or ""))
        except (service.NotAllowed, service.MemberFormError) as exc:
            text = exc.message if isinstance(exc, service.MemberFormError) else str(exc)
            return redirect(f"/admin/members/{member_id}", text, "error")
        return redirect(
            "/admin/applications",
            _("%(name)s's application is declined; its owner is emailed.", name=member.name),
        )
    if action == "suspend":
        page = unless_confirmed(request, form, suspend_confirmation(member))
        if page is not None:
            return page
    status, message = STATUS_ACTIONS[action]
    if action == "approve" and member.status != MemberStatus.applied:
        return redirect(
            f"/admin/members/{member_id}",
            _("%(name)s is not awaiting approval.", name=member.name),
            "error",
        )
    try:
        service.set_status(session, member=member, status=status)
    except service.NotAllowed as exc:
        return redirect(f"/admin/members/{member_id}", str(exc), "error")
    return redirect(f"/admin/members/{member_id}", str(message) % {"name": member.name})
