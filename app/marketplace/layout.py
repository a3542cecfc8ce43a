"""Editor changes to an issue's layout where the marketplace has a stake.

A slot is the sponsor or classified block at its position, so a slot moves with its block,
a removed slot block's slot is withdrawn (and reopened if the block is put back), and a
block that a live booking holds is neither moved nor removed unless the booking is
cancelled first, through the marketplace's own cancel path (a paid booking is refunded
the way it was paid and the member is told). The editor calls these, not the
newsletters' block functions, for every move and removal.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.marketplace import service
from app.marketplace.models import LIVE_STATUSES, Booking, Slot, SlotStatus
from app.members.models import Member
from app.newsletters import blocks
from app.newsletters.models import SLOT_KINDS, Issue, IssueBlock
from app.newsletters.service import blocks_of


@dataclass(frozen=True)
class BookedBlock:
    """A live booking on a slot block, as the editor shows it."""

    booking_id: int
    member_name: str
    status: str
    paid: bool


class BookedSlot(Exception):
    """The block holds a live booking; `booked` says whose."""

    def __init__(self, block: IssueBlock, booked: BookedBlock, message: str) -> None:
        super().__init__(message)
        self.block = block
        self.booked = booked


def _slot_at(session: Session, issue: Issue, position: int, *, lock: bool = False) -> Slot | None:
    query = select(Slot).where(Slot.issue_id == issue.id, Slot.position == position)
    if lock:
        # A booking locks the slot row too, so none can slip in between check and change.
        query = query.with_for_update()
    return session.exec(query).first()


def _live_booking(session: Session, slot: Slot) -> tuple[Booking, Member] | None:
    row = session.exec(
        select(Booking, Member)
        .join(Member, col(Member.id) == col(Booking.member_id))
        .where(Booking.slot_id == slot.id, col(Booking.status).in_(LIVE_STATUSES))
    ).first()
    return (row[0], row[1]) if row else None


def _describe(booking: Booking, member: Member) -> BookedBlock:
    return BookedBlock(
        booking_id=booking.id or 0,
        member_name=member.name,
        status=booking.status.value.replace("_", " "),
        paid=booking.paid_at is not None,
    )


def booked_blocks(session: Session, issue: Issue) -> dict[int, BookedBlock]:
    """Live bookings on the issue's slot blocks, by block id."""
    found: dict[int, BookedBlock] = {}
    for block in blocks_of(session, issue.id or 0):
        if block.kind not in SLOT_KINDS:
            continue
        slot = _slot_at(session, issue, block.position)
        live = _live_booking(session, slot) if slot else None
        if live:
            found[block.id or 0] = _describe(*live)
    return found


def _held(
    session: Session, issue: Issue, block: IssueBlock
) -> tuple[Slot | None, BookedBlock | None]:
    if block.kind not in SLOT_KINDS:
        return None, None
    slot = _slot_at(session, issue, block.position, lock=True)
    live = _live_booking(session, slot) if slot else None
    return slot, (_describe(*live) if live else None)


def move_block(session: Session, issue: Issue, block_id: int, direction: int) -> None:
    """Swap a block with its neighbour; slots move with their blocks. Refused (BookedSlot)
    when either block is a booked slot: the member bought that place in the issue."""
    blocks.lock_layout(session, issue)
    block = blocks.block_of(session, issue, block_id)
    other = blocks.neighbour(session, issue, block_id, direction)
    if other is None:
        return
    held = [(b, *_held(session, issue, b)) for b in (block, other)]
    for b, _slot, booked in held:
        if booked is not None:
            raise BookedSlot(
                b,
                booked,
                _(
                    "block %(position)s is booked by %(member)s, so it stays where it is;"
                    " to move it, cancel that booking first",
                    position=b.position,
                    member=booked.member_name,
                ),
            )
    slots = [(slot, b) for b, slot, _booked in held if slot is not None]
    blocks.swap_positions(session, issue, block, other)
    # The slot rows follow; a temporary position keeps (issue, position) unique meanwhile.
    for slot, _block in slots:
        slot.position = -(slot.id or 0)
    session.flush()
    for slot, b in slots:
        slot.position = b.position
    session.flush()


def remove_block(
    session: Session, issue: Issue, block_id: int, *, cancel_booking: int | None = None
) -> BookedBlock | None:
    """Remove a block (undo with `restore_block`). A booked slot block is removed only
    when `cancel_booking` names its live booking, which is then cancelled; otherwise
    BookedSlot. Returns the cancelled booking, if any."""
    block = blocks.block_of(session, issue, block_id)
    slot, booked = _held(session, issue, block)
    if booked is not None:
        if cancel_booking != booked.booking_id:
            raise BookedSlot(
                block,
                booked,
                _(
                    "block %(position)s is booked by %(member)s: removing it cancels that booking",
                    position=block.position,
                    member=booked.member_name,
                ),
            )
        booking = session.get(Booking, booked.booking_id)
        assert booking is not None
        service.cancel(
            session, booking, reason=lazy_gettext("The Club took this slot out of the issue.")
        )
    blocks.remove_block(session, issue, block_id)
    if slot is not None:
        slot.status = SlotStatus.withdrawn
    session.flush()
    return booked


def restore_block(session: Session, issue: Issue, block_id: int) -> IssueBlock:
    """Put a removed block back where it was; its slot is offered again."""
    block = blocks.restore_block(session, issue, block_id)
    slot = _slot_at(session, issue, block.position, lock=True)
    if slot is not None and block.kind in SLOT_KINDS:
        slot.status = SlotStatus.open
    session.flush()
    return block
