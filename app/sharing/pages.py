"""Member pages for sharing agreements, member mailings and the export of the member's
own subscribers; admin approval of member mailings.

A receiving member only ever sees counts of its shared audiences: nothing here selects
a shared subscriber's address.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, func, select
from starlette.datastructures import FormData

from app.auth.deps import MemberContext, MemberOwner, MemberStaff, RequireAdmin, Right
from app.consent.models import ConsentAction, ConsentEvent, ConsentScope
from app.db import SessionDep
from app.i18n import format_datetime
from app.i18n import gettext as _
from app.members.forms import FormDep
from app.members.models import Member
from app.sharing import audience, mailings, service
from app.sharing.models import MemberMailing, PurposeCategory
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from app.web import CsrfProtected, redirect, render

router = APIRouter(include_in_schema=False)


def _sharing_context(session: Session, context: MemberContext, **extra: Any) -> dict[str, Any]:
    member = context.member
    names = {m.id: m for m in session.exec(select(Member)).all()}
    topics = {t.id: t for t in session.exec(select(Topic)).all()}
    rows = [
        {
            "agreement": a,
            "state": service.state(a),
            "offering": names.get(a.offering_member_id),
            "receiving": names.get(a.receiving_member_id),
            "topic": topics.get(a.topic_id) if a.topic_id else None,
            "count": audience.agreement_count(session, a),
            "history": service.history(session, a.id or 0),
            "mine_to_accept": a.receiving_member_id == member.id,
        }
        for a in service.agreements_of(session, member.id or 0)
    ]
    return {
        "member": member,
        "is_owner": context.is_owner,
        "rows": rows,
        "own_topics": [t for t in topics.values() if t.member_id == member.id],
        "categories": list(PurposeCategory),
        "partners": service.offer_partners(session, member),
        "purpose_limit": service.PURPOSE_LIMIT,
        "names": names,
        "state_names": service.STATE_NAMES,
        "category_names": service.CATEGORY_NAMES,
        "history_line": lambda e: service.history_line(
            e.action,
            names[e.member_id].name if e.member_id in names else "",
            format_datetime(e.occurred_at),
        ),
        "values": {},
        "errors": {},
        **extra,
    }


@router.get("/member/sharing", response_class=HTMLResponse)
def sharing_page(request: Request, session: SessionDep, context: MemberStaff) -> Response:
    return render(request, "sharing/agreements.html", **_sharing_context(session, context))


@router.post("/member/sharing", response_class=HTMLResponse, dependencies=[CsrfProtected])
def offer(
    request: Request,
    session: SessionDep,
    context: MemberOwner,
    receiver: Annotated[str, Form()] = "",
    topic: Annotated[str, Form()] = "",
    purpose_category: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
) -> Response:
    values = {
        "receiver": receiver,
        "topic": topic,
        "purpose_category": purpose_category,
        "purpose": purpose,
        "ends_on": ends_on,
    }
    try:
        ends_at: datetime | None = datetime.combine(
            datetime.fromisoformat(ends_on).date(), time(23, 59)
        )
    except ValueError:
        ends_at = None
    try:
        service.offer(
            session,
            member=context.member,
            receiving_slug=receiver,
            topic_slug=topic or None,
            purpose_category=purpose_category,
            purpose=purpose,
            ends_at=ends_at,
            account_id=context.account.id,
        )
    except service.OfferProblems as exc:
        session.rollback()
        ctx = _sharing_context(session, context, values=values, errors=exc.problems)
        return render(request, "sharing/agreements.html", status_code=exc.status, **ctx)
    return redirect("/member/sharing", _("The offer is sent; it starts when they accept it."))


def _agreement_or_404(session: Session, context: MemberContext, agreement_id: int):  # type: ignore[no-untyped-def]
    agreement = service.for_member(
        session, member_id=context.member.id or 0, agreement_id=agreement_id
    )
    if agreement is None:
        raise HTTPException(404, detail=_("Your co-op has no such sharing agreement."))
    return agreement


def _agreement_step(
    session: SessionDep,
    context: MemberOwner,
    agreement_id: int,
    step,
    message: str,  # type: ignore[no-untyped-def]
) -> Response:
    agreement = _agreement_or_404(session, context, agreement_id)
    try:
        step(
            session,
            agreement=agreement,
            member_id=context.member.id or 0,
            account_id=context.account.id,
        )
    except service.SharingError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    return redirect("/member/sharing", message)


@router.post("/member/sharing/{agreement_id}/accept", dependencies=[CsrfProtected])
def accept(session: SessionDep, context: MemberOwner, agreement_id: int) -> Response:
    return _agreement_step(
        session,
        context,
        agreement_id,
        service.accept,
        _("Accepted: the shared audience is yours to mail."),
    )


@router.post("/member/sharing/{agreement_id}/revoke", dependencies=[CsrfProtected])
def revoke(session: SessionDep, context: MemberOwner, agreement_id: int) -> Response:
    return _agreement_step(
        session, context, agreement_id, service.revoke, _("The agreement is revoked.")
    )


# The member's own subscribers (CSV) ------------------------------------------------


@router.get("/member/subscribers.csv")
def own_subscribers_csv(session: SessionDep, context: MemberOwner) -> Response:
    """People who subscribed to the member's own topics, with when they consented; a
    shared audience never appears here (it is not the member's)."""
    rows = session.exec(
        select(Subscriber, Topic, Subscription)
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .join(Topic, col(Topic.id) == Subscription.topic_id)
        .where(
            Topic.member_id == context.member.id,
            Subscription.status == SubscriptionStatus.active,
        )
        .order_by(col(Subscriber.id), Topic.slug)
    ).all()
    confirmed_at = {
        (key, topic_id): at
        for key, topic_id, at in session.exec(
            select(
                ConsentEvent.subscriber_key,
                ConsentEvent.topic_id,
                func.max(ConsentEvent.occurred_at),
            )
            .where(
                ConsentEvent.scope == ConsentScope.topic,
                ConsentEvent.action == ConsentAction.confirmed,
                col(ConsentEvent.topic_id).in_([t.id for _, t, _ in rows] or [-1]),
            )
            .group_by(ConsentEvent.subscriber_key, ConsentEvent.topic_id)
        ).all()
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["email", "first_name", "topic", "consent_confirmed_at"])
    for subscriber, topic, _subscription in rows:
        at = confirmed_at.get((subscriber.key, topic.id))
        first = subscriber.first_name or ""
        writer.writerow(
            [
                subscriber.email,
                ("'" + first) if first[:1] in ("=", "+", "-", "@") else first,
                topic.slug,
                at.isoformat() if at else "",
            ]
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="my-subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


# Member mailings --------------------------------------------------------------------


@router.get("/member/mailings", response_class=HTMLResponse)
def mailings_page(request: Request, session: SessionDep, context: MemberStaff) -> Response:
    own, shared = mailings.counts(session, context.member)
    return render(
        request,
        "sharing/mailings.html",
        member=context.member,
        mailings=mailings.list_for(session, context.member.id or 0),
        own_count=own,
        shared_count=shared,
        **mailings.NAMES,
    )


@router.post("/member/mailings", dependencies=[CsrfProtected])
def mailing_create(
    session: SessionDep, context: MemberStaff, subject: Annotated[str, Form()] = ""
) -> Response:
    if not subject.strip():
        return redirect("/member/mailings", _("Give the mailing a subject."), kind="error")
    mailing = mailings.create(session, member=context.member, subject=subject[:200])
    return redirect(f"/member/mailings/{mailing.id}", _("Draft created: write it, then submit it."))


def _mailing_or_404(session: Session, context: MemberContext, mailing_id: int):  # type: ignore[no-untyped-def]
    mailing = mailings.of_member(session, member_id=context.member.id or 0, mailing_id=mailing_id)
    if mailing is None:
        raise HTTPException(404, detail=_("Your co-op has no such mailing."))
    return mailing


def _show_mailing(
    request: Request, session: Session, context: MemberContext, mailing, **extra: Any
) -> Response:  # type: ignore[no-untyped-def]
    from app.newsletters.models import Issue

    return render(
        request,
        "sharing/mailing.html",
        status_code=extra.pop("status_code", 200),
        member=context.member,
        mailing=mailing,
        issue=session.get(Issue, mailing.issue_id),
        blocks=mailings.blocks(session, mailing),
        audience=mailings.audience_size(session, mailing),
        can_submit=context.may(Right.mailings),
        **mailings.NAMES,
        **extra,
    )


@router.get("/member/mailings/{mailing_id}", response_class=HTMLResponse)
def mailing_page(
    request: Request, session: SessionDep, context: MemberStaff, mailing_id: int
) -> Response:
    return _show_mailing(request, session, context, _mailing_or_404(session, context, mailing_id))


@router.get("/member/mailings/{mailing_id}/preview.html", response_class=HTMLResponse)
def mailing_preview(session: SessionDep, context: MemberStaff, mailing_id: int) -> Response:
    """The mailing as readers will get it; the approving admin sees the same."""
    mailing = _mailing_or_404(session, context, mailing_id)
    return HTMLResponse(mailings.preview_html(session, mailing))


@router.post("/member/mailings/{mailing_id}", dependencies=[CsrfProtected])
def mailing_save(
    request: Request, session: SessionDep, context: MemberStaff, mailing_id: int, form: FormDep
) -> Response:
    """Save the draft (owners and staff)."""
    return _save_mailing(request, session, context, mailing_id, form, submit=False)


@router.post("/member/mailings/{mailing_id}/submit", dependencies=[CsrfProtected])
def mailing_submit(
    request: Request, session: SessionDep, context: MemberOwner, mailing_id: int, form: FormDep
) -> Response:
    """Save and submit the mailing for the Club's review (owners: it is then sent)."""
    return _save_mailing(request, session, context, mailing_id, form, submit=True)


def _save_mailing(
    request: Request,
    session: Session,
    context: MemberContext,
    mailing_id: int,
    form: FormData,
    *,
    submit: bool,
) -> Response:
    mailing = _mailing_or_404(session, context, mailing_id)
    bodies = {
        int(key[5:]): str(value)[:20_000]
        for key, value in form.items()
        if key.startswith("body-") and key[5:].isdigit()
    }
    subject = str(form.get("subject", ""))[:200]
    try:
        mailings.update(session, mailing=mailing, subject=subject, bodies=bodies)
        if submit:
            mailings.submit(session, mailing=mailing)
    except service.SharingError as exc:
        session.rollback()
        mailing = _mailing_or_404(session, context, mailing_id)
        return _show_mailing(
            request, session, context, mailing, status_code=exc.status, error=str(exc)
        )
    if submit:
        return redirect("/member/mailings", _("Submitted: an admin will review it before it goes."))
    return redirect(f"/member/mailings/{mailing.id}", _("Saved."))


# Admin -----------------------------------------------------------------------------------


@router.get("/admin/mailings", response_class=HTMLResponse)
def admin_mailings(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    waiting = [
        (m, issue, member, mailings.blocks(session, m), mailings.audience_size(session, m))
        for m, issue, member in mailings.submitted(session)
    ]
    return render(request, "sharing/admin_mailings.html", waiting=waiting)


def _submitted_mailing(session: Session, mailing_id: int):  # type: ignore[no-untyped-def]
    from app.sharing.models import MemberMailing

    mailing = session.get(MemberMailing, mailing_id)
    if mailing is None:
        raise HTTPException(404, detail=_("There is no such mailing."))
    return mailing


@router.get("/admin/mailings/{mailing_id}/preview.html", response_class=HTMLResponse)
def admin_mailing_preview(session: SessionDep, admin: RequireAdmin, mailing_id: int) -> Response:
    mailing = session.get(MemberMailing, mailing_id)
    if mailing is None:
        raise HTTPException(404, detail=_("There is no such mailing."))
    return HTMLResponse(mailings.preview_html(session, mailing))


@router.post("/admin/mailings/{mailing_id}/approve", dependencies=[CsrfProtected])
def admin_approve(session: SessionDep, admin: RequireAdmin, mailing_id: int) -> Response:
    try:
        mailings.approve(session, mailing=_submitted_mailing(session, mailing_id))
    except service.SharingError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    return redirect("/admin/mailings", _("Approved: it is being sent now."))


@router.post("/admin/mailings/{mailing_id}/reject", dependencies=[CsrfProtected])
def admin_reject(
    session: SessionDep, admin: RequireAdmin, mailing_id: int, note: Annotated[str, Form()] = ""
) -> Response:
    try:
        mailings.reject(session, mailing=_submitted_mailing(session, mailing_id), note=note)
    except service.SharingError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    return redirect("/admin/mailings", _("Returned to the member with your note."))
