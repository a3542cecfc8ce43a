"""Plain functions for the recruiting tests: people who sign up through a member's API
key or form token and confirm from the mail they receive, and what the ledger says."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from app.db import session_scope, utcnow
from app.payments import credits
from app.payments.models import CreditEntry
from app.recruiting.models import RecruitCredit, RecruitStatus
from tests.subscribers.helpers import confirm_from_mail


def sign_up_and_confirm(client, smtp, run_jobs, email: str, *, topics=("food",), **request):
    """POST /api/v1/subscribe with `request` (json extras, headers) and confirm from mail."""
    headers = request.pop("headers", {})
    response = client.post(
        "/api/v1/subscribe",
        json={"email": email, "topics": list(topics), **request},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    confirmed = confirm_from_mail(client, smtp, email, run_jobs)
    assert confirmed.status_code == 200
    smtp.clear()


def recruits() -> list[tuple[int, str, int]]:
    """(member id, status, amount) of every recruit, oldest first."""
    with session_scope() as session:
        rows = session.exec(select(RecruitCredit).order_by(col(RecruitCredit.id))).all()
        return [(r.member_id, str(r.status), r.amount) for r in rows]


def end_the_hold() -> None:
    """As if the holding period of every pending recruit had passed."""
    with session_scope() as session:
        session.execute(
            update(RecruitCredit)
            .where(col(RecruitCredit.status) == RecruitStatus.pending)
            .values(matures_at=utcnow() - timedelta(seconds=1))
        )


def balance(member) -> int:
    with session_scope() as session:
        return credits.balance(session, member_id=member.id)


def ledger_reasons(member) -> list[str]:
    with session_scope() as session:
        return list(
            session.exec(
                select(CreditEntry.reason)
                .where(CreditEntry.member_id == member.id)
                .order_by(col(CreditEntry.id))
            ).all()
        )
