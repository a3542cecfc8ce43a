"""The marketplace's part of the periodic sweep: holds and open invoices that ran out
release their slot, paid bookings without an approved creative at the deadline are
released and refunded, placed bookings of sent issues become sent, and upcoming issues
offer their slots. Each booking goes through the same locked service call a person's
request uses, so the sweep racing an admin or a member changes a booking once."""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from app.db import utcnow
from app.i18n import lazy_gettext
from app.jobs import register_sweep
from app.marketplace import inventory, service, states
from app.marketplace.models import Booking, BookingStatus, Slot
from app.newsletters.models import Issue, IssueStatus

log = logging.getLogger(__name__)
S = BookingStatus


def expire_holds(session: Session) -> int:
    stale = session.exec(
        select(Booking).where(
            col(Booking.status).in_([S.held, S.awaiting_payment]),
            col(Booking.held_until) <= utcnow(),
        )
    ).all()
    return sum(service.expire(session, booking) for booking in stale)


def release_missed_deadlines(session: Session) -> int:
    """Paid bookings with no approved creative at the deadline are released and refunded."""
    missed = session.exec(
        select(Booking)
        .join(Slot, col(Slot.id) == col(Booking.slot_id))
        .where(
            col(Booking.status).in_([S.paid, S.creative_submitted]),
            col(Slot.creative_deadline) <= utcnow(),
        )
    ).all()
    released = 0
    for booking in missed:
        try:
            with session.begin_nested():
                service.cancel(
                    session,
                    booking,
                    reason=lazy_gettext(
                        "the creative deadline passed without an approved creative."
                    ),
                )
            released += 1
        except states.IllegalTransition:
            pass  # someone else moved it first (approved, cancelled): nothing to release
        except Exception:
            log.exception("could not release booking %s; retrying on the next sweep", booking.id)
    return released


def mark_sent(session: Session) -> int:
    """Placed bookings whose issue has gone out are sent."""
    placed = session.exec(
        select(Booking)
        .join(Slot, col(Slot.id) == col(Booking.slot_id))
        .join(Issue, col(Issue.id) == col(Slot.issue_id))
        .where(Booking.status == S.placed, Issue.status == IssueStatus.sent)
    ).all()
    for booking in placed:
        booking = service.locked(session, booking)
        if booking.status == S.placed:
            states.move(booking, S.sent)
    return len(placed)


@register_sweep("marketplace")
def sweep_marketplace(session: Session) -> None:
    expire_holds(session)
    release_missed_deadlines(session)
    mark_sent(session)
    for issue in inventory.upcoming_issues(session):
        inventory.ensure_slots(session, issue)
