"""Member pages for the marketplace: inventory, booking, paying, the creative with a
preview inside the issue, and the sponsor report. Plus the click redirect /r/{token}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlmodel import Session

from app import charts
from app.auth.deps import MemberContext, MemberOwner, MemberStaff, Right
from app.config import get_settings
from app.db import SessionDep, utcnow
from app.i18n import gettext as _
from app.marketplace import inventory, placement, preview, report, service, states
from app.marketplace.api import REFUSALS
from app.marketplace.models import Booking, BookingStatus, CreativeInput, Slot
from app.marketplace.notices import format_money
from app.members.models import Member
from app.newsletters.models import Newsletter
from app.payments import credits, stripe_gateway
from app.payments.models import PaymentMethod
from app.payments.providers import available_methods
from app.validation_messages import message_for
from app.web import CsrfProtected, redirect, render

router = APIRouter(include_in_schema=False)

CREATIVE_FIELDS = ("headline", "body", "link", "image_url")


def own_booking(booking_id: int, context: MemberStaff, session: SessionDep) -> Booking:
    try:
        return service.get_own(session, member_id=context.member.id or 0, booking_id=booking_id)
    except service.BookingError:
        raise HTTPException(404, _("There is no such booking.")) from None


OwnBooking = Annotated[Booking, Depends(own_booking)]


@router.get("/member/slots", response_class=HTMLResponse)
def slots_page(request: Request, context: MemberStaff, session: SessionDep) -> Response:
    return render(
        request,
        "marketplace/inventory.html",
        member=context.member,
        issues=inventory.inventory(session),
        balance=credits.balance(session, member_id=context.member.id or 0),
        can_book=context.may(Right.money),
        **states.NAMES,
    )


@router.post("/member/bookings", response_class=HTMLResponse, dependencies=[CsrfProtected])
def book_page(
    context: MemberOwner, session: SessionDep, slot_id: Annotated[int, Form()] = 0
) -> Response:
    try:
        booking = service.book(session, member=context.member, slot_id=slot_id)
    except service.BookingError as exc:
        return redirect("/member/slots", _("Could not book: %(problem)s.", problem=exc), "error")
    return redirect(
        f"/member/bookings/{booking.id}",
        _("The slot is held for you for 15 minutes: pay to keep it."),
    )


@router.get("/member/bookings", response_class=HTMLResponse)
def bookings_page(request: Request, context: MemberStaff, session: SessionDep) -> Response:
    bookings = service.bookings_of(session, member_id=context.member.id or 0)
    return render(
        request,
        "marketplace/bookings.html",
        member=context.member,
        rows=[describe(session, b) for b in bookings],
        balance=credits.balance(session, member_id=context.member.id or 0),
        ledger=credits.entries(session, member_id=context.member.id or 0),
        **states.NAMES,
    )


def describe(session: Session, booking: Booking) -> dict[str, Any]:
    slot = service.slot_of(session, booking)
    issue = service.issue_of(session, slot)
    newsletter = session.get(Newsletter, issue.newsletter_id)
    return {
        "booking": booking,
        "slot": slot,
        "issue": issue,
        "newsletter": newsletter,
        "member": session.get(Member, booking.member_id),
        "creative": service.creative_of(session, booking),
        "money": format_money(booking.amount, booking.currency),
    }


def booking_page_context(
    session: Session, booking: Booking, context: MemberContext
) -> dict[str, Any]:
    info = describe(session, booking)
    client_secret = None
    if (
        booking.status == BookingStatus.awaiting_payment
        and booking.method == PaymentMethod.stripe
        and booking.payment_intent_id
        and stripe_gateway.configured()
    ):
        try:
            client_secret = stripe_gateway.retrieve_intent(booking.payment_intent_id).client_secret
        except stripe_gateway.StripeUnavailable:
            client_secret = None
    slot: Slot = info["slot"]
    balance = credits.balance(session, member_id=booking.member_id)
    covered = balance >= booking.amount
    sponsor_report = (
        report.report_for(session, booking)
        if booking.status in (BookingStatus.placed, BookingStatus.sent)
        else None
    )
    return {
        **info,
        **states.NAMES,
        "can_pay": context.may(Right.money),  # book, pay, cancel: owners (see auth.deps)
        # Credits are offered only when the balance covers the price.
        "methods": [m for m in available_methods() if m != PaymentMethod.credits or covered],
        "credits_cover": covered,
        "balance": balance,
        "client_secret": client_secret,
        "stripe_js": stripe_js_url() if client_secret else None,
        "publishable_key": get_settings().stripe_publishable_key,
        "editable": service.can_write_creative(booking) and slot.creative_deadline > utcnow(),
        "report": sponsor_report,
        "report_chart": report_chart(sponsor_report) if sponsor_report else None,
        "limits": slot.limits,
    }


def report_chart(sponsor_report: report.SponsorReport) -> Markup:
    return charts.bar_chart(
        title=_(
            "Your sponsor report: people it was delivered to, and clicks on your link (counts)"
        ),
        bars=[
            charts.Bar(_("Delivered"), sponsor_report.delivered, 0),
            charts.Bar(_("Clicks"), sponsor_report.clicks, 1),
        ],
    )


def stripe_js_url() -> str:
    base = get_settings().stripe_api_base
    return f"{base.rstrip('/')}/js.stripe.com/v3/" if base else "https://js.stripe.com/v3/"


@router.get("/member/bookings/{booking_id}", response_class=HTMLResponse)
def booking_page(
    request: Request, booking: OwnBooking, context: MemberStaff, session: SessionDep
) -> Response:
    creative = service.creative_of(session, booking)
    values = {f: getattr(creative, f) or "" for f in CREATIVE_FIELDS} if creative else {}
    return render(
        request,
        "marketplace/booking.html",
        values=values,
        errors={},
        preview_url=f"/member/bookings/{booking.id}/preview.html" if creative else None,
        **booking_page_context(session, booking, context),
    )


@router.post(
    "/member/bookings/{booking_id}/pay", response_class=HTMLResponse, dependencies=[CsrfProtected]
)
def pay_page(
    booking: OwnBooking,
    _owner: MemberOwner,
    session: SessionDep,
    method: Annotated[str, Form()] = "",
) -> Response:
    try:
        chosen = PaymentMethod(method)
    except ValueError:
        return redirect(f"/member/bookings/{booking.id}", _("Choose a way to pay."), "error")
    try:
        service.pay(session, booking, method=chosen)
    except REFUSALS as exc:
        return redirect(
            f"/member/bookings/{booking.id}", _("Could not pay: %(problem)s.", problem=exc), "error"
        )
    message = {
        PaymentMethod.credits: _("Paid from your credits. Now submit the creative."),
        PaymentMethod.invoice: _(
            "We will send an invoice; the booking is paid once it is settled."
        ),
        PaymentMethod.stripe: _("Enter your card details below to pay."),
    }[chosen]
    return redirect(f"/member/bookings/{booking.id}", message)


@router.post(
    "/member/bookings/{booking_id}/creative",
    response_class=HTMLResponse,
    dependencies=[CsrfProtected],
)
async def creative_page(
    request: Request, booking: OwnBooking, context: MemberStaff, session: SessionDep
) -> Response:
    form = await request.form()
    values = {f: str(form.get(f) or "") for f in CREATIVE_FIELDS}
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(
        _creative, request, booking, context, session, values, form.get("action") == "submit"
    )


def _creative(
    request: Request,
    booking: Booking,
    context: MemberContext,
    session: Session,
    values: dict[str, str],
    submit: bool,
) -> Response:
    errors: dict[str, str] = {}
    data: CreativeInput | None = None
    try:
        data = CreativeInput.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            errors.setdefault(str(err["loc"][0]), message_for(err))
    slot = service.slot_of(session, booking)
    if data is not None:
        errors.update(service.check_creative(slot, data))
    preview_url = None
    if data is not None and not errors:
        if submit:
            try:
                service.submit_creative(session, booking, data)
            except REFUSALS as exc:
                return redirect(
                    f"/member/bookings/{booking.id}",
                    _("Not submitted: %(problem)s.", problem=exc),
                    "error",
                )
            return redirect(
                f"/member/bookings/{booking.id}",
                _("Saved: it goes to a Club admin for approval once the invoice is paid.")
                if service.invoice_open(booking)
                else _("Submitted: a Club admin will review it."),
            )
        preview_url = (
            f"/member/bookings/{booking.id}/preview.html?draft={preview.draft_token(booking, data)}"
        )
    return render(
        request,
        "marketplace/booking.html",
        status_code=422 if errors else 200,
        values=values,
        errors=errors,
        preview_url=preview_url,
        **booking_page_context(session, booking, context),
    )


@router.get("/member/bookings/{booking_id}/preview.html", response_class=HTMLResponse)
def creative_preview(booking: OwnBooking, session: SessionDep, draft: str = "") -> Response:
    """The issue with this booking's creative (or the draft just typed) as readers see it;
    shown in a sandboxed frame on the booking page, under the email policy."""
    typed = preview.draft_from(booking, draft) if draft else None
    return HTMLResponse(preview.email_html(session, booking, typed))


@router.post(
    "/member/bookings/{booking_id}/cancel",
    response_class=HTMLResponse,
    dependencies=[CsrfProtected],
)
def cancel_page(booking: OwnBooking, _owner: MemberOwner, session: SessionDep) -> Response:
    try:
        service.cancel_unpaid_or_paid(session, booking, by_member=True)
    except REFUSALS as exc:
        return redirect(
            f"/member/bookings/{booking.id}", _("Not cancelled: %(problem)s.", problem=exc), "error"
        )
    return redirect("/member/bookings", _("The booking is cancelled and the slot released."))


# The click redirect -------------------------------------------------------------------------


@router.get("/r/{token}")
def click(token: str, session: SessionDep) -> Response:
    creative = placement.creative_for_token(session, token)
    if creative is None:
        raise HTTPException(404, _("This link is not valid."))
    link = placement.record_click(session, creative)
    return RedirectResponse(link, status_code=303)
