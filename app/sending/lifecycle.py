"""An issue's sending life: start, pause, resume, cancel, finish, and the sweep that
keeps it moving. Every state lives in the database, so any worker can pick it up."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from app.admin_labels import state_name
from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.jobs import enqueue, register_sweep
from app.mailing import outage
from app.mailing.transport import DeliveryError, make_transport
from app.marketplace.placement import creatives_for_issue
from app.members.service import alert_admins
from app.newsletters.models import Issue, IssueStatus
from app.newsletters.service import compile_for
from app.sending.assembly import ASSEMBLE_ISSUE, SEND_BATCH, lock_issue
from app.sending.models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)


def claim_lease() -> timedelta:
    """A claimed batch not finished within this time was lost with its worker."""
    return timedelta(seconds=get_settings().send_claim_lease_seconds)


ASSEMBLY_STALL = timedelta(minutes=2)


class IssueStateError(Exception):
    """The issue's status does not allow this action (HTTP 409)."""


def start(session: Session, issue: Issue) -> None:
    """Begin sending a scheduled issue now (admins, or the sweep at its time)."""
    if issue.status != IssueStatus.scheduled:
        raise IssueStateError(
            _(
                "only a scheduled issue can start; this one is %(status)s",
                status=state_name(issue.status),
            )
        )
    # Approved creatives go into their slots now; bookings become placed.
    creatives = creatives_for_issue(session, issue)
    if creatives:
        issue.compiled_html, issue.compiled_text = compile_for(session, issue, creatives)
    issue.status = IssueStatus.sending
    issue.send_started_at = issue.updated_at = utcnow()
    enqueue(session, ASSEMBLE_ISSUE, issue.id)


def pause(session: Session, issue: Issue, *, by: str = "admin", reason: str | None = None) -> None:
    """Stop at the next batch boundary; batches already running finish."""
    if issue.status != IssueStatus.sending:
        raise IssueStateError(
            _(
                "only a sending issue can be paused; this one is %(status)s",
                status=state_name(issue.status),
            )
        )
    issue.status, issue.paused_by = IssueStatus.paused, by
    issue.pause_reason = reason or _("Paused by an admin.")
    issue.updated_at = utcnow()


def resume(session: Session, issue: Issue) -> None:
    if issue.status != IssueStatus.paused:
        raise IssueStateError(
            _(
                "only a paused issue can resume; this one is %(status)s",
                status=state_name(issue.status),
            )
        )
    issue.status, issue.paused_by, issue.pause_reason = IssueStatus.sending, None, None
    issue.failure_streak = 0
    issue.updated_at = utcnow()
    if not issue.assembly_done:
        enqueue(session, ASSEMBLE_ISSUE, issue.id)
    for batch in pending_batches(session, issue.id or 0):
        enqueue(session, SEND_BATCH, issue.id, batch)


def cancel(session: Session, issue: Issue) -> None:
    if issue.status not in (IssueStatus.scheduled, IssueStatus.sending, IssueStatus.paused):
        raise IssueStateError(
            _("an issue that is %(status)s cannot be cancelled", status=state_name(issue.status))
        )
    issue.status, issue.updated_at = IssueStatus.cancelled, utcnow()
    session.execute(
        update(Delivery)
        .where(col(Delivery.issue_id) == issue.id, col(Delivery.status) == DeliveryStatus.queued)
        .values(status=DeliveryStatus.cancelled)
    )


def pending_batches(session: Session, issue_id: int) -> list[int]:
    return list(
        session.execute(
            select(Delivery.batch)
            .distinct()
            .where(
                col(Delivery.issue_id) == issue_id,
                col(Delivery.status).in_([DeliveryStatus.queued, DeliveryStatus.sending]),
            )
            .order_by(Delivery.batch)
        ).scalars()
    )


def finish_if_done(session: Session, issue: Issue) -> bool:
    if issue.status != IssueStatus.sending or not issue.assembly_done:
        return False
    if pending_batches(session, issue.id or 0):
        return False
    issue.status, issue.sent_at = IssueStatus.sent, utcnow()
    issue.updated_at = issue.sent_at
    return True


def pause_for_smtp(session: Session, issue: Issue, error: str) -> None:
    if issue.status == IssueStatus.sending:
        pause(
            session,
            issue,
            by="smtp",
            reason=_(
                "The mail server could not be reached (%(error)s). Sending resumes by itself "
                "once it answers again.",
                error=error,
            ),
        )
        alert_admins(
            session,
            subject=lazy_gettext("Sending paused: %(subject)s", subject=issue.subject),
            message=lazy_gettext(
                "The mail server could not be reached (%(error)s). Sending resumes by itself "
                "once it answers again.",
                error=error,
            ),
        )


def smtp_answers() -> bool:
    transport = make_transport(get_settings())
    try:
        transport.probe()
        return True
    except DeliveryError:
        return False
    finally:
        transport.close()


@register_sweep("issues")
def sweep_issues(session: Session) -> None:
    now = utcnow()
    due = (
        session.execute(
            select(Issue).where(
                col(Issue.status) == IssueStatus.scheduled, col(Issue.scheduled_at) <= now
            )
        )
        .scalars()
        .all()
    )
    for issue in due:
        start(session, issue)
    sending = (
        session.execute(select(Issue).where(col(Issue.status) == IssueStatus.sending))
        .scalars()
        .all()
    )
    for issue in sending:
        if not issue.assembly_done and issue.updated_at < now - ASSEMBLY_STALL:
            enqueue(session, ASSEMBLE_ISSUE, issue.id)
        for batch in stalled_batches(session, issue.id or 0, now):
            enqueue(session, SEND_BATCH, issue.id, batch)
        finish_if_done(session, issue)


@register_sweep("mail-server-outage", transaction=False)
def resume_after_outage(session_scope) -> None:  # type: ignore[no-untyped-def]
    """Issues and transactional mail paused because the mail server could not be
    reached resume once it answers. The probe (up to the SMTP timeout) runs outside
    any transaction."""
    with session_scope() as session:
        waiting = list(
            session.execute(
                select(Issue.id).where(
                    col(Issue.status) == IssueStatus.paused, col(Issue.paused_by) == "smtp"
                )
            ).scalars()
        )
        mail_paused = outage.paused(session)
    if not (waiting or mail_paused) or not smtp_answers():
        return
    with session_scope() as session:
        for issue_id in waiting:
            issue = lock_issue(session, issue_id)
            if (
                issue is not None
                and issue.status == IssueStatus.paused
                and issue.paused_by == "smtp"
            ):
                log.info("mail server answers again: resuming issue %s", issue_id)
                resume(session, issue)
        if mail_paused:
            log.info("mail server answers again: resuming transactional mail")
            outage.resume(session)


def stalled_batches(session: Session, issue_id: int, now) -> list[int]:  # type: ignore[no-untyped-def]
    """Batches whose job was lost: claims older than the lease (their worker died), and,
    when the issue has made no progress for a whole lease, every batch still queued (its
    message was lost with the broker or a worker's prefetch). Re-sending a batch job is
    harmless: the claim lets only one job send each row."""
    lease = claim_lease()
    stale_claims = (
        select(Delivery.batch)
        .distinct()
        .where(
            col(Delivery.issue_id) == issue_id,
            col(Delivery.status) == DeliveryStatus.sending,
            col(Delivery.claimed_at) < now - lease,
        )
    )
    batches = set(session.execute(stale_claims.limit(1000)).scalars())
    last_activity = session.execute(
        select(
            func.max(
                func.coalesce(
                    col(Delivery.sent_at), col(Delivery.claimed_at), col(Delivery.created_at)
                )
            )
        ).where(col(Delivery.issue_id) == issue_id)
    ).scalar_one_or_none()
    if last_activity is not None and last_activity < now - lease:
        batches.update(pending_batches(session, issue_id)[:1000])
    return sorted(batches)
