"""The marketplace's JSON API for members (their API key): inventory, bookings, paying,
creatives and reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from sqlmodel import Session

from app.auth.deps import ApiMember
from app.db import SessionDep
from app.marketplace import inventory, report, service, states
from app.marketplace.models import (
    Booking,
    BookingCreate,
    BookingPublic,
    CreativeInput,
    CreativePublic,
    IssueInventory,
)
from app.payments import credits, stripe_gateway
from app.payments.models import PaymentMethodChoice

# What any marketplace call may answer besides success (the body is always {"detail": …}).
REFUSAL_RESPONSES: dict[int | str, dict[str, str]] = {
    400: {"description": "The body is not JSON"},
    401: {"description": "Missing, unknown or revoked key, or suspended member"},
    402: {"description": "Not enough credits"},
    404: {"description": "No such slot or booking for your co-op"},
    409: {"description": "The slot or booking is not in a state that allows this"},
    422: {"description": "Invalid input; the detail names the field"},
    503: {"description": "The payment provider cannot be reached"},
}
router = APIRouter(prefix="/api/v1", tags=["marketplace"], responses=REFUSAL_RESPONSES)
# Ids are 32-bit integers in the database: a larger number is refused, not looked up.
BookingId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def booking_error(exc: Exception) -> HTTPException:
    """The HTTP answer to a refused marketplace action."""
    if isinstance(exc, service.BookingError | inventory.SlotError):
        field = getattr(exc, "field", None)
        if exc.status == 422 and field:
            return HTTPException(422, detail=[{"field": field, "message": str(exc)}])
        return HTTPException(exc.status, detail=str(exc))
    if isinstance(exc, states.IllegalTransition):
        return HTTPException(409, detail=str(exc))
    if isinstance(exc, credits.InsufficientCredits):
        return HTTPException(402, detail=str(exc))
    if isinstance(exc, stripe_gateway.StripeUnavailable):
        return HTTPException(503, detail=str(exc))
    raise exc


REFUSALS = (
    service.BookingError,
    inventory.SlotError,
    states.IllegalTransition,
    credits.InsufficientCredits,
    stripe_gateway.StripeUnavailable,
)


def public(session: Session, booking: Booking, client_secret: str | None = None) -> BookingPublic:
    slot = service.slot_of(session, booking)
    creative = service.creative_of(session, booking)
    return BookingPublic(
        id=booking.id or 0,
        slot_id=booking.slot_id,
        issue_id=slot.issue_id,
        status=booking.status,
        amount=booking.amount,
        currency=booking.currency,
        held_until=booking.held_until,
        method=booking.method,
        rejection_reason=booking.rejection_reason,
        creative_deadline=slot.creative_deadline,
        creative=CreativePublic(
            headline=creative.headline,
            body=creative.body,
            link=creative.link,
            image_url=creative.image_url,
            approved=creative.approved_at is not None,
        )
        if creative
        else None,
        client_secret=client_secret,
    )


def own_booking(booking_id: BookingId, principal: ApiMember, session: SessionDep) -> Booking:
    # A dependency, so another member's id is 404 before the body is even read.
    try:
        return service.get_own(session, member_id=principal.member.id or 0, booking_id=booking_id)
    except service.BookingError as exc:
        raise booking_error(exc) from None


OwnBooking = Annotated[Booking, Depends(own_booking)]


@router.get("/slots", summary="Upcoming issues with their audience and free slots")
def list_slots(principal: ApiMember, session: SessionDep) -> list[IssueInventory]:
    return inventory.inventory(session)


@router.post("/bookings", status_code=201, summary="Hold a free slot for 15 minutes")
def create_booking(body: BookingCreate, principal: ApiMember, session: SessionDep) -> BookingPublic:
    try:
        booking = service.book(session, member=principal.member, slot_id=body.slot_id)
    except REFUSALS as exc:
        raise booking_error(exc) from None
    return public(session, booking)


@router.get("/bookings", summary="Your co-op's bookings")
def list_bookings(principal: ApiMember, session: SessionDep) -> list[BookingPublic]:
    return [
        public(session, b) for b in service.bookings_of(session, member_id=principal.member.id or 0)
    ]


@router.get("/bookings/{booking_id}", summary="One of your bookings")
def get_booking(booking: OwnBooking, session: SessionDep) -> BookingPublic:
    return public(session, booking)


@router.post("/bookings/{booking_id}/payment", summary="Pay a held booking")
def pay_booking(
    booking: OwnBooking, body: PaymentMethodChoice, session: SessionDep
) -> BookingPublic:
    try:
        secret = service.pay(session, booking, method=body.method)
    except REFUSALS as exc:
        raise booking_error(exc) from None
    return public(session, booking, secret)


@router.put("/bookings/{booking_id}/creative", summary="Submit or change the creative")
def put_creative(booking: OwnBooking, body: CreativeInput, session: SessionDep) -> BookingPublic:
    try:
        service.submit_creative(session, booking, body)
    except REFUSALS as exc:
        raise booking_error(exc) from None
    return public(session, booking)


@router.post("/bookings/{booking_id}/cancel", summary="Cancel a booking before paying")
def cancel_booking(booking: OwnBooking, session: SessionDep) -> BookingPublic:
    try:
        service.cancel_unpaid_or_paid(session, booking, by_member=True)
    except REFUSALS as exc:
        raise booking_error(exc) from None
    return public(session, booking)


@router.get("/bookings/{booking_id}/report", summary="Delivered and clicked, in aggregate")
def booking_report(booking: OwnBooking, session: SessionDep) -> dict[str, object]:
    result = report.report_for(session, booking)
    creative = service.creative_of(session, booking)
    return {
        "issue_id": result.issue.id,
        "sent": result.sent,
        "delivered": result.delivered,  # people the issue was delivered to
        "clicks": result.clicks,  # clicks, counted; not people
        # Per link: a creative has one link today, counted through /r/{token}.
        "links": [{"url": creative.link, "clicks": result.clicks}] if creative else [],
        "web_url": result.web_url,
    }


@router.get("/credits", summary="Your co-op's credit balance")
def credit_balance(principal: ApiMember, session: SessionDep) -> dict[str, int]:
    return {"balance": credits.balance(session, member_id=principal.member.id or 0)}
