"""Re-keying stored address HMACs under COOPCLUB_SUPPRESSION_PEPPER (run by
`coopclub db upgrade`): seals the legacy peppers the signing keys derive, then moves every
subscriber's HMAC, and the recruit credit that carries the same HMAC, under the pepper.
Suppressions cannot be re-keyed this way (their addresses are not kept): each is re-keyed
when its address next comes by (app/subscribers/suppression_keys.py)."""

from __future__ import annotations

from sqlmodel import col, select, update

from app.db import session_scope
from app.recruiting.models import RecruitCredit
from app.subscribers.models import Subscriber
from app.subscribers.suppression_keys import address_hmac, capture_legacy

PAGE = 1000


def rekey_addresses() -> int:
    """Returns how many subscribers were re-keyed; safe to run again (then 0)."""
    with session_scope() as session:
        capture_legacy(session)
    moved, after = 0, 0
    while True:
        with session_scope() as session:
            page = session.exec(
                select(Subscriber.id, Subscriber.email, Subscriber.address_hmac)
                .where(col(Subscriber.id) > after)
                .order_by(col(Subscriber.id))
                .limit(PAGE)
            ).all()
            if not page:
                return moved
            for subscriber_id, email, old in page:
                new = address_hmac(email)
                if new == old:
                    continue
                session.execute(
                    update(Subscriber)
                    .where(col(Subscriber.id) == subscriber_id)
                    .values(address_hmac=new)
                )
                session.execute(
                    update(RecruitCredit)
                    .where(col(RecruitCredit.address_hmac) == old)
                    .values(address_hmac=new)
                )
                moved += 1
            after = page[-1][0]
