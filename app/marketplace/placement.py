"""Placing approved creatives into an issue as it starts sending, and counting clicks.

A creative's link in the email is our redirect, /r/{token}: the token is signed and
names only the creative, so it cannot be pointed anywhere else and identifies nobody.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app import signing
from app.config import get_settings
from app.marketplace import states
from app.marketplace.models import Booking, BookingStatus, ClickCount, Creative, Slot
from app.members.models import Member
from app.newsletters.models import Issue
from app.newsletters.render import PlacedCreative


def click_token(creative_id: int) -> str:
    return signing.sign(signing.Purpose.redirect, {"c": creative_id})


def click_url(creative_id: int) -> str:
    return f"{get_settings().base_url}/r/{click_token(creative_id)}"


def creative_for_token(session: Session, token: str) -> Creative | None:
    try:
        payload = signing.unsign(signing.Purpose.redirect, token)
    except signing.InvalidToken:
        return None
    creative_id = payload.get("c") if isinstance(payload, dict) else None
    if not isinstance(creative_id, int):
        return None
    return session.get(Creative, creative_id)


def placed_creative(member: Member, creative: Creative) -> PlacedCreative:
    return PlacedCreative(
        member_name=member.name,
        headline=creative.headline,
        body=creative.body,
        click_url=click_url(creative.id or 0),
        image_url=creative.image_url,
    )


def creatives_for_issue(
    session: Session, issue: Issue, *, place: bool = True
) -> dict[int, PlacedCreative]:
    """Approved (or already placed) creatives by block position; approved bookings become
    placed. Call it when the issue starts sending, then compile with the result. With
    `place=False` (a test copy) the bookings stay as they are."""
    rows = session.exec(
        select(Booking, Creative, Slot, Member)
        .join(Creative, col(Creative.booking_id) == col(Booking.id))
        .join(Slot, col(Slot.id) == col(Booking.slot_id))
        .join(Member, col(Member.id) == col(Booking.member_id))
        .where(
            Slot.issue_id == issue.id,
            col(Booking.status).in_([BookingStatus.approved, BookingStatus.placed]),
        )
    ).all()
    placed: dict[int, PlacedCreative] = {}
    for booking, creative, slot, member in rows:
        if place and booking.status == BookingStatus.approved:
            states.move(booking, BookingStatus.placed)
        placed[slot.position] = placed_creative(member, creative)
    session.flush()
    return placed


def record_click(session: Session, creative: Creative) -> str:
    """Count one click for the creative in its issue; returns the link to send them to."""
    issue_id = session.exec(
        select(Slot.issue_id)
        .join(Booking, col(Booking.slot_id) == col(Slot.id))
        .where(Booking.id == creative.booking_id)
    ).one()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ClickCount).values(creative_id=creative.id, issue_id=issue_id, clicks=1)
    statement = statement.on_conflict_do_update(
        index_elements=["creative_id", "issue_id"],
        set_={"clicks": ClickCount.__table__.c.clicks + 1},  # type: ignore[attr-defined]
    )
    session.execute(statement)
    return creative.link
