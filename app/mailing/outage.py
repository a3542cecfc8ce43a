"""Keeping transactional mail moving: the pause an unreachable server causes, the sweep
that sends again what is due or was lost with a worker, and the retention of rows.

The sweep itself only reads and writes rows; whether the server answers again is probed
by the send pipeline's outage sweep (app/sending/lifecycle.py), outside any transaction,
which then calls `resume`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.config import get_settings
from app.db import utcnow
from app.i18n import lazy_gettext
from app.jobs import lost_before, register_sweep
from app.mailing.models import MailPause, TransactionalEmail, TransactionalStatus

log = logging.getLogger(__name__)

CHANNEL = "transactional"


def paused(session: Session) -> bool:
    return session.get(MailPause, CHANNEL) is not None


def pause(session: Session, reason: str) -> None:
    """Stop trying transactional mail until the server answers (idempotent, also when
    several workers find the server down at once)."""
    log.warning("the mail server cannot be reached; transactional mail pauses: %s", reason)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(MailPause)
        .values(channel=CHANNEL, reason=reason[:300], since=utcnow())
        .on_conflict_do_nothing(index_elements=["channel"])
    )


def resume(session: Session) -> int:
    """Lift the pause and send every queued message now; returns how many."""
    session.execute(delete(MailPause).where(col(MailPause.channel) == CHANNEL))
    return _send_again(session, due_before=None)


def _send_again(session: Session, *, due_before: datetime | None) -> int:
    from app.mailing.service import enqueue_delivery

    now = utcnow()
    queued = col(TransactionalEmail.status) == TransactionalStatus.queued
    if due_before is not None:
        queued = queued & (
            col(TransactionalEmail.next_attempt_at).is_(None)
            | (col(TransactionalEmail.next_attempt_at) < due_before)
        )
    lost = (col(TransactionalEmail.status) == TransactionalStatus.sending) & (
        col(TransactionalEmail.claimed_at) < now - job_lease()
    )
    ids = list(
        session.execute(
            select(TransactionalEmail.id).where(or_(queued, lost)).limit(1000)
        ).scalars()
    )
    if ids:
        # Due again from now: the next sweep leaves them to these jobs for a while.
        session.execute(
            update(TransactionalEmail)
            .where(col(TransactionalEmail.id).in_(ids), queued)
            .values(next_attempt_at=now)
        )
    enqueue_delivery(session, ids)
    return len(ids)


def job_lease() -> timedelta:
    from app.mailing.service import CLAIM_LEASE

    return CLAIM_LEASE


def tell_admins_once(session: Session, email: TransactionalEmail) -> None:
    """Admins hear of a transactional mail given up for good, at most once an hour."""
    from app.members.service import alert_admins  # members' own mail goes through us

    since = utcnow() - timedelta(hours=1)
    earlier = session.execute(
        select(TransactionalEmail.id)
        .where(
            col(TransactionalEmail.status) == TransactionalStatus.failed,
            col(TransactionalEmail.id) != email.id,
            col(TransactionalEmail.claimed_at) >= since,
            col(TransactionalEmail.kind) != "admin-alert",
        )
        .limit(1)
    ).first()
    if earlier is None:
        alert_admins(
            session,
            subject=lazy_gettext("A confirmation or login email could not be delivered"),
            message=lazy_gettext(
                "A %(kind)s email failed after %(tries)s tries (last error: %(error)s). "
                "Further failures this hour are only logged.",
                kind=email.kind,
                tries=email.attempts,
                error=email.last_error or "",
            ),
        )


@register_sweep("transactional-mail")
def sweep_transactional(session: Session) -> None:
    """Send again what is overdue (its job was lost) or whose worker died, unless
    paused; and forget rows past the retention time."""
    from app.mailing.service import DELIVER_TRANSACTIONAL

    settings = get_settings()
    now = utcnow()
    if not paused(session):
        grace = timedelta(seconds=settings.transactional_retry_after_seconds)
        # Rows whose jobs still wait behind a backlog are not lost (app.jobs).
        due_before = lost_before(DELIVER_TRANSACTIONAL.queue, now - grace)
        _send_again(session, due_before=due_before)
    keep = timedelta(days=settings.transactional_retention_days)
    session.execute(
        delete(TransactionalEmail).where(
            col(TransactionalEmail.status).in_(
                [TransactionalStatus.sent, TransactionalStatus.failed]
            ),
            col(TransactionalEmail.created_at) < now - keep,
        )
    )
