"""Recruiting credits on the web: a member's credits page (balance, ledger, recruits
waiting out their hold) and the admin page (rate, caps, pending and granted credits per
member). Recruits are shown by number and date only: no addresses are kept for them."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from app.auth.deps import MemberStaff, RequireAdmin
from app.db import SessionDep
from app.i18n import format_number, lazy_gettext, ngettext
from app.i18n import gettext as _
from app.members.models import Member
from app.payments import credits as ledger
from app.recruiting import service
from app.recruiting.models import RecruitCredit, RecruitStatus
from app.web import CsrfProtected, redirect, render

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {
    RecruitStatus.pending: lazy_gettext("Waiting out the hold"),
    RecruitStatus.granted: lazy_gettext("Granted"),
    RecruitStatus.cancelled: lazy_gettext("Cancelled"),
    RecruitStatus.over_cap: lazy_gettext("Over the daily cap"),
}

# Why a recruit was cancelled (app/flows.py), as the reader says it.
CANCEL_REASONS = {
    "erased": lazy_gettext("erased"),
    "hard-bounce": lazy_gettext("hard bounce"),
    "complaint": lazy_gettext("spam complaint"),
}
RECRUITED = re.compile(r"^Recruited a new subscriber \(recruit #(\d+)\)$")
# What app/payments/providers.py records when credits pay for a booking or come back.
BOOKING = re.compile(r"^Booking (\d+)$")
REFUND = re.compile(r"^Refund of booking (\d+)$")


def recruit_status(recruit: RecruitCredit) -> str:
    """A recruit's status in the reader's words: until when it waits, or why it ended."""
    label = str(STATUS_LABELS[recruit.status])
    if recruit.status == RecruitStatus.pending:
        date = recruit.matures_at.strftime("%Y-%m-%d")
        return _("%(status)s until %(date)s", status=label, date=date)
    if recruit.cancel_reason:
        reason = CANCEL_REASONS.get(recruit.cancel_reason, recruit.cancel_reason)
        return _("%(status)s (%(reason)s)", status=label, reason=reason)
    return label


def ledger_reason(reason: str) -> str:
    """A ledger line's reason in the reader's words: the ledger records English
    sentences (recruiting's and payments'), known here by their shape; any other reason
    as recorded."""
    if found := RECRUITED.match(reason):
        return _("Recruited a new subscriber (recruit #%(number)s)", number=found[1])
    if found := BOOKING.match(reason):
        return _("Paid for booking %(number)s", number=found[1])
    if found := REFUND.match(reason):
        return _("Refund of booking %(number)s", number=found[1])
    return reason


@router.get("/member/credits", response_class=HTMLResponse)
def member_credits(request: Request, session: SessionDep, context: MemberStaff) -> Response:
    member_id = context.member.id or 0
    tallies = service.tallies(session, member_id=member_id)
    return render(
        request,
        "recruiting/member_credits.html",
        member=context.member,
        balance=ledger.balance(session, member_id=member_id),
        entries=ledger.entries(session, member_id=member_id, limit=200),
        rate=service.rate(session),
        tally={
            status: tallies.get((member_id, str(status)), service.Tally())
            for status in RecruitStatus
        },
        recruits=service.recent(session, member_id=member_id),
        labels=STATUS_LABELS,
        recruit_status=recruit_status,
        ledger_reason=ledger_reason,
    )


def _admin_page(
    request: Request, session: SessionDep, *, status_code: int = 200, **extra
) -> Response:  # type: ignore[no-untyped-def]
    tallies = service.tallies(session)
    members = {m.id: m for m in session.exec(select(Member).order_by(Member.name)).all()}
    rows = [
        (member, {s: tallies.get((member.id, str(s)), service.Tally()) for s in RecruitStatus})
        for member in members.values()
        if any(key[0] == member.id for key in tallies)
    ]
    totals = {
        s: service.Tally(
            count=sum(t.count for (_, status), t in tallies.items() if status == str(s)),
            credits=sum(t.credits for (_, status), t in tallies.items() if status == str(s)),
        )
        for s in RecruitStatus
    }
    extra.setdefault("amount", str(service.rate(session)))
    extra.setdefault("errors", {})
    return render(
        request,
        "recruiting/admin.html",
        status_code=status_code,
        rows=rows,
        totals=totals,
        members=members,
        recruits=service.recent(session),
        labels=STATUS_LABELS,
        recruit_status=recruit_status,
        **extra,
    )


@router.get("/admin/recruiting", response_class=HTMLResponse)
def admin_recruiting(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    return _admin_page(request, session)


@router.post("/admin/recruiting/rate", response_class=HTMLResponse, dependencies=[CsrfProtected])
def admin_rate(
    request: Request,
    session: SessionDep,
    admin: RequireAdmin,
    amount: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        service.set_rate(session, amount=int(amount.replace(",", "").strip()), account_id=admin.id)
    except ValueError:
        return _admin_page(
            request,
            session,
            status_code=422,
            amount=amount,
            errors={
                "amount": _(
                    "Give a whole number of credits from %(low)s to %(high)s.",
                    low=format_number(0),
                    high=format_number(1_000_000),
                )
            },
        )
    return redirect(
        "/admin/recruiting",
        ngettext(
            "Each new recruit now earns %(num)s credit.",
            "Each new recruit now earns %(num)s credits.",
            service.rate(session),
        ),
    )
