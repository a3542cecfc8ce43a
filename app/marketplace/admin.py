"""Admin pages for the marketplace: slots per issue, the approval queue, invoices to mark
paid, cancellations with refunds, and each booking's report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app.auth.deps import RequireAdmin
from app.db import SessionDep
from app.i18n import gettext as _
from app.marketplace import inventory, preview, report, service, states
from app.marketplace.api import REFUSALS
from app.marketplace.models import Booking, BookingStatus, Slot, SlotKind
from app.marketplace.pages import describe
from app.newsletters.models import Issue, Newsletter
from app.newsletters.service import IssueStateError
from app.payments.models import PaymentMethod
from app.payments.money import MoneyError, parse_price
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin/marketplace", include_in_schema=False)
S = BookingStatus


def _booking(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise HTTPException(404, _("There is no such booking."))
    return booking


def _slot(session: Session, slot_id: int) -> Slot:
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise HTTPException(404, _("There is no such slot."))
    return slot


def _described(session: Session, bookings: Sequence[Booking]) -> list[dict[str, Any]]:
    return [describe(session, b) for b in bookings]


@router.get("", response_class=HTMLResponse)
def overview(request: Request, _admin: RequireAdmin, session: SessionDep) -> Response:
    return _overview(request, session)


def _overview(
    request: Request,
    session: Session,
    *,
    price_errors: dict[int, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    issues = []
    for issue in inventory.upcoming_issues(session):
        slots = inventory.ensure_slots(session, issue)
        newsletter = session.get(Newsletter, issue.newsletter_id)
        live = service.live_bookings_of(session, [s.id or 0 for s in slots])
        issues.append({"issue": issue, "newsletter": newsletter, "slots": slots, "live": live})
    return render(
        request,
        "marketplace/admin.html",
        status_code=status_code,
        issues=issues,
        queue=_described(session, service.bookings_in(session, [S.creative_submitted])),
        invoices=_described(
            session, service.bookings_in(session, [S.awaiting_payment], PaymentMethod.invoice)
        ),
        refunds=_described(session, service.bookings_in(session, [S.rejected, S.cancelled])),
        kinds=list(SlotKind),
        **states.NAMES,
        price_errors=price_errors or {},
    )


@router.get("/bookings/{booking_id}", response_class=HTMLResponse)
def booking_detail(
    request: Request, booking_id: int, _admin: RequireAdmin, session: SessionDep
) -> Response:
    booking = _booking(session, booking_id)
    info = describe(session, booking)
    return render(
        request,
        "marketplace/admin_booking.html",
        **states.NAMES,
        report=report.report_for(session, booking),
        **info,
    )


@router.get("/bookings/{booking_id}/preview.html", response_class=HTMLResponse)
def booking_preview(booking_id: int, _admin: RequireAdmin, session: SessionDep) -> Response:
    """The issue with this booking's creative, exactly as the email will show it."""
    return HTMLResponse(preview.email_html(session, _booking(session, booking_id)))


@router.post("/bookings/{booking_id}/{action}", dependencies=[CsrfProtected])
def booking_action(
    booking_id: int,
    action: str,
    _admin: RequireAdmin,
    session: SessionDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    booking = _booking(session, booking_id)
    back = f"/admin/marketplace/bookings/{booking.id}"
    try:
        if action == "approve":
            service.approve(session, booking)
            message = _("Approved; the member is emailed.")
        elif action == "reject":
            service.reject(session, booking, reason=reason)
            message = _("Rejected; the member is emailed and the payment refunded.")
        elif action == "mark-paid":
            service.mark_invoice_paid(session, booking)
            message = _("Marked paid.")
        elif action == "cancel":
            service.cancel_unpaid_or_paid(session, booking, by_member=False)
            message = _("Cancelled; a paid booking is refunded the way it was paid.")
        else:
            raise HTTPException(404, _("Unknown action."))
    except REFUSALS as exc:
        # Raising rolls the request's transaction back: nothing is half-done.
        raise HTTPException(getattr(exc, "status", 409), str(exc)) from None
    return redirect(back, message)


@router.post("/issues/{issue_id}/slots", dependencies=[CsrfProtected])
def add_slot(
    issue_id: int, _admin: RequireAdmin, session: SessionDep, kind: Annotated[str, Form()] = ""
) -> Response:
    issue = session.get(Issue, issue_id)
    if issue is None:
        raise HTTPException(404, _("There is no such issue."))
    try:
        inventory.add_slot(session, issue, SlotKind(kind))
    except ValueError:
        return redirect("/admin/marketplace", _("Choose sponsor or classified."), "error")
    except (inventory.SlotError, IssueStateError) as exc:
        return redirect("/admin/marketplace", _("Not added: %(problem)s.", problem=exc), "error")
    return redirect("/admin/marketplace", _("Slot added."))


@router.post("/slots/{slot_id}/{action}", dependencies=[CsrfProtected])
def slot_action(
    request: Request,
    slot_id: int,
    action: str,
    _admin: RequireAdmin,
    session: SessionDep,
    price: Annotated[str, Form()] = "",
) -> Response:
    slot = _slot(session, slot_id)
    try:
        if action == "price":
            try:
                minor = parse_price(price)
            except MoneyError as exc:
                problem = {"typed": price, "message": _("Not repriced: %(problem)s.", problem=exc)}
                return _overview(
                    request, session, price_errors={slot.id or 0: problem}, status_code=422
                )
            inventory.reprice(session, slot, price=minor)
        elif action == "withdraw":
            inventory.withdraw(session, slot)
        elif action == "reopen":
            inventory.reopen(session, slot)
        else:
            raise HTTPException(404, _("Unknown action."))
    except inventory.SlotError as exc:
        return redirect("/admin/marketplace", _("Not changed: %(problem)s.", problem=exc), "error")
    return redirect("/admin/marketplace", _("Slot updated."))
