"""The append-only credit ledger: a member's balance is the sum of its entries.

One credit is worth one minor unit of a slot's currency (a $250.00 slot costs 25,000
credits). Spending takes a row lock on the member, so two bookings paid at once from
one balance cannot both spend the same credits.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from app.i18n import format_number, ngettext
from app.members.models import Member
from app.payments.models import CreditEntry


class InsufficientCredits(Exception):
    """The balance does not cover the price (HTTP 402)."""


def balance(session: Session, *, member_id: int) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(
            CreditEntry.member_id == member_id
        )
    ).one()
    return int(total)


def add(
    session: Session, *, member_id: int, amount: int, reason: str, booking_id: int | None = None
) -> CreditEntry:
    """Append one entry (positive: earned or refunded; negative: spent)."""
    if amount == 0:
        raise ValueError("a ledger entry moves at least one credit")
    entry = CreditEntry(member_id=member_id, amount=amount, reason=reason, booking_id=booking_id)
    session.add(entry)
    session.flush()
    return entry


def spend(
    session: Session, *, member_id: int, amount: int, reason: str, booking_id: int | None = None
) -> CreditEntry:
    # Serialise spending per member (SQLite serialises all writers already).
    session.exec(select(Member.id).where(Member.id == member_id).with_for_update()).first()
    available = balance(session, member_id=member_id)
    if available < amount:
        raise InsufficientCredits(
            ngettext(
                "this costs %(num)s credit and your co-op has %(available)s:"
                " choose another way to pay or earn more credits first",
                "this costs %(num)s credits and your co-op has %(available)s:"
                " choose another way to pay or earn more credits first",
                amount,
                available=format_number(available),
            )
        )
    return add(session, member_id=member_id, amount=-amount, reason=reason, booking_id=booking_id)


def entries(session: Session, *, member_id: int, limit: int = 50) -> list[CreditEntry]:
    return list(
        session.exec(
            select(CreditEntry)
            .where(CreditEntry.member_id == member_id)
            .order_by(CreditEntry.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )
