"""What the marketplace tells a member about its bookings: one transactional email per
change to every active owner and staff account."""

from __future__ import annotations

from babel.support import LazyProxy
from sqlmodel import Session, col, select

from app.config import get_settings
from app.mailing.service import queue_transactional
from app.marketplace.models import Booking, Slot
from app.members.models import Account, Role
from app.newsletters.models import Issue, Newsletter
from app.payments.money import format_money

__all__ = ["format_money", "member_recipients", "notify_member"]


def member_recipients(session: Session, member_id: int) -> list[str]:
    return list(
        session.exec(
            select(Account.email).where(
                Account.member_id == member_id,
                col(Account.active),
                col(Account.role).in_([Role.owner, Role.staff]),
            )
        ).all()
    )


def notify_member(
    session: Session, booking: Booking, *, subject: str | LazyProxy, message: str | LazyProxy
) -> None:
    slot = session.get(Slot, booking.slot_id)
    assert slot is not None
    issue = session.get(Issue, slot.issue_id)
    assert issue is not None
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    for email in member_recipients(session, booking.member_id):
        queue_transactional(
            session,
            kind="booking",
            to=email,
            subject=subject,
            template="booking_update",
            message=message,
            issue_label=f"{newsletter.name} #{issue.number}: {issue.subject}",
            booking_url=f"{get_settings().base_url}/member/bookings/{booking.id}",
        )
