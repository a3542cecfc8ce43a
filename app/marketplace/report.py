"""The sponsor report: how many people an issue was delivered to, clicks on the creative's
link, and the issue's web version. Aggregates only; nobody is identified."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.marketplace.models import Booking, ClickCount, Creative
from app.marketplace.service import creative_of, issue_of, slot_of
from app.newsletters.models import Issue, IssueStatus, Newsletter
from app.newsletters.service import web_url
from app.sending.models import Delivery, DeliveryStatus


@dataclass(frozen=True)
class SponsorReport:
    issue: Issue
    newsletter: Newsletter
    delivered: int
    clicks: int
    web_url: str
    sent: bool


def delivered_count(session: Session, issue_id: int) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.issue_id == issue_id, col(Delivery.status) == DeliveryStatus.sent)
        ).one()
    )


def clicks_for(session: Session, creative: Creative | None, issue_id: int) -> int:
    if creative is None:
        return 0
    total = session.exec(
        select(func.coalesce(func.sum(ClickCount.clicks), 0)).where(
            ClickCount.creative_id == creative.id, ClickCount.issue_id == issue_id
        )
    ).one()
    return int(total)


def report_for(session: Session, booking: Booking) -> SponsorReport:
    issue = issue_of(session, slot_of(session, booking))
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    return SponsorReport(
        issue=issue,
        newsletter=newsletter,
        delivered=delivered_count(session, issue.id or 0),
        clicks=clicks_for(session, creative_of(session, booking), issue.id or 0),
        web_url=web_url(newsletter, issue),
        sent=issue.status == IssueStatus.sent,
    )
