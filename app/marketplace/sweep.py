"""The marketplace's part of the periodic sweep: holds that ran out release their slot,
paid bookings without an approved creative at the deadline are released and refunded,
placed bookings of sent issues become sent, and upcoming issues offer their slots."""

from __future__ import annotations

from sqlmodel import Session

from app.jobs import register_sweep
from app.marketplace import inventory, service


@register_sweep("marketplace")
def sweep_marketplace(session: Session) -> None:
    service.expire_holds(session)
    service.release_missed_deadlines(session)
    service.mark_sent(session)
    for issue in inventory.upcoming_issues(session):
        inventory.ensure_slots(session, issue)
