"""Slots: offered from each upcoming issue's layout, listed for members, managed by admins.

An issue's sponsor and classified blocks are its slots. They are created the first time
anyone looks at the issue's inventory (members, admins, the sweep), so an issue created
or scheduled by the newsletters domain offers its slots without that domain knowing
about the marketplace.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.marketplace.models import (
    LIVE_STATUSES,
    Booking,
    IssueInventory,
    Slot,
    SlotKind,
    SlotPublic,
    SlotStatus,
)
from app.newsletters import blocks
from app.newsletters import service as newsletters
from app.newsletters.models import SLOT_KINDS, BlockKind, Issue, IssueStatus, Newsletter

# Creatives are due this long before the issue is sent, so admins have time to approve.
CREATIVE_LEAD = timedelta(days=1)
# A draft has no send time yet; its slots are offered with this deadline until it is scheduled.
DRAFT_DEADLINE = timedelta(days=14)
UPCOMING = (IssueStatus.draft, IssueStatus.scheduled)


class SlotError(Exception):
    """Something about a slot an admin or member can fix; `status` is the HTTP answer."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def deadline_for(issue: Issue) -> datetime:
    if issue.scheduled_at is not None:
        return issue.scheduled_at - CREATIVE_LEAD
    return issue.created_at + DRAFT_DEADLINE


def price_for(newsletter: Newsletter, kind: SlotKind) -> int:
    return newsletter.sponsor_price if kind == SlotKind.sponsor else newsletter.classified_price


def ensure_slots(session: Session, issue: Issue) -> list[Slot]:
    """Create the slots of an upcoming issue's sponsor/classified blocks that have none yet;
    once the issue is scheduled, open slots take its real deadline."""
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    existing = {s.position: s for s in slots_of(session, issue.id or 0)}
    if issue.status not in UPCOMING:
        return list(existing.values())
    layout = [b for b in newsletters.blocks_of(session, issue.id or 0) if b.kind in SLOT_KINDS]
    if any(block.position not in existing for block in layout):
        # Members, admins and the sweep may all look at a new issue at once: whoever
        # creates its slots holds the issue's row, and the others then find them made.
        # Read again once holding it: the issue may have been scheduled, or its blocks
        # moved, while this waited.
        blocks.lock_layout(session, issue)
        existing = {s.position: s for s in slots_of(session, issue.id or 0)}
        if issue.status not in UPCOMING:
            return list(existing.values())
        layout = [
            block
            for block in newsletters.blocks_of(session, issue.id or 0, fresh=True)
            if block.kind in SLOT_KINDS
        ]
    deadline = deadline_for(issue)
    for block in layout:
        slot = existing.get(block.position)
        if slot is None:
            kind = SlotKind(block.kind.value)
            slot = Slot(
                issue_id=issue.id or 0,
                position=block.position,
                kind=kind,
                price=price_for(newsletter, kind),
                currency=newsletter.currency,
                creative_deadline=deadline,
            )
            session.add(slot)
            existing[block.position] = slot
        elif issue.scheduled_at is not None and slot.creative_deadline != deadline:
            slot.creative_deadline = deadline
    session.flush()
    return sorted(existing.values(), key=lambda s: s.position)


def slots_of(session: Session, issue_id: int) -> Sequence[Slot]:
    return session.exec(select(Slot).where(Slot.issue_id == issue_id).order_by(Slot.position)).all()


def taken_slot_ids(session: Session, slot_ids: Sequence[int]) -> set[int]:
    if not slot_ids:
        return set()
    return set(
        session.exec(
            select(Booking.slot_id).where(
                col(Booking.slot_id).in_(slot_ids), col(Booking.status).in_(LIVE_STATUSES)
            )
        ).all()
    )


def is_free(session: Session, slot: Slot) -> bool:
    return (
        slot.status == SlotStatus.open
        and slot.creative_deadline > utcnow()
        and not taken_slot_ids(session, [slot.id or 0])
    )


def upcoming_issues(session: Session) -> Sequence[Issue]:
    return session.exec(
        select(Issue)
        .where(col(Issue.status).in_(UPCOMING))
        .order_by(col(Issue.scheduled_at).is_(None), Issue.scheduled_at, Issue.id)
    ).all()


def inventory(session: Session) -> list[IssueInventory]:
    """Upcoming issues with their topics, current audience and free slots."""
    now = utcnow()
    result: list[IssueInventory] = []
    for issue in upcoming_issues(session):
        newsletter = session.get(Newsletter, issue.newsletter_id)
        assert newsletter is not None
        slots = ensure_slots(session, issue)
        taken = taken_slot_ids(session, [s.id or 0 for s in slots])
        offered = [
            SlotPublic(
                id=s.id or 0,
                kind=s.kind,
                position=s.position,
                price=s.price,
                currency=s.currency,
                creative_deadline=s.creative_deadline,
                free=s.id not in taken,
                headline_max=s.limits["headline"],
                body_max=s.limits["body"],
            )
            for s in slots
            if s.status == SlotStatus.open and s.creative_deadline > now
        ]
        if not offered:
            continue
        result.append(
            IssueInventory(
                issue_id=issue.id or 0,
                newsletter=newsletter.name,
                number=issue.number,
                subject=issue.subject,
                scheduled_at=issue.scheduled_at,
                topics=[t.name for t in newsletters.topics_of(session, newsletter.id or 0)],
                audience=newsletters.audience_estimate(session, newsletter.id or 0),
                slots=offered,
            )
        )
    return result


# Admin changes ----------------------------------------------------------------------------


def _unbooked(session: Session, slot: Slot) -> None:
    if taken_slot_ids(session, [slot.id or 0]):
        raise SlotError(_("this slot is booked: cancel the booking first"))


def add_slot(session: Session, issue: Issue, kind: SlotKind) -> Slot:
    """A new slot block at the end of a draft issue."""
    if issue.status != IssueStatus.draft:
        raise SlotError(_("slots can be added to draft issues only; this issue's layout is frozen"))
    block = blocks.add_block(session, issue, BlockKind(kind.value))
    ensure_slots(session, issue)
    slot = session.exec(
        select(Slot).where(Slot.issue_id == issue.id, Slot.position == block.position)
    ).one()
    return slot


def reprice(session: Session, slot: Slot, *, price: int) -> None:
    if not 0 <= price <= get_settings().max_price:
        raise SlotError(_("a price must be between 0 and the Club's maximum price"), status=422)
    # Lock the slot so a booking cannot slip in between the check and the change.
    session.exec(select(Slot).where(Slot.id == slot.id).with_for_update()).one()
    _unbooked(session, slot)
    slot.price = price


def withdraw(session: Session, slot: Slot) -> None:
    session.exec(select(Slot).where(Slot.id == slot.id).with_for_update()).one()
    _unbooked(session, slot)
    slot.status = SlotStatus.withdrawn


def reopen(session: Session, slot: Slot) -> None:
    positions = {b.position for b in newsletters.blocks_of(session, slot.issue_id)}
    if slot.position not in positions:
        raise SlotError(_("its block was removed from the issue: put the block back in the editor"))
    slot.status = SlotStatus.open
