"""What a bounce or complaint does beyond the send ledger: suppress the address, and
for a complaint also withdraw the person's consent to the newsletter's topics through
the consent ledger (a spam report is the clearest withdrawal there is)."""

from __future__ import annotations

from sqlmodel import Session

from app import flows
from app.newsletters.models import Issue
from app.newsletters.service import topic_ids
from app.sending.models import Delivery
from app.subscribers import preferences
from app.subscribers.models import Subscriber
from app.subscribers.service import suppress


def suppress_subscriber(session: Session, subscriber: Subscriber, reason: str) -> None:
    if reason == "hard-bounce":
        flows.hard_bounced(session, subscriber=subscriber)
    suppress(session, subscriber.email, reason)


def complaint(session: Session, subscriber: Subscriber, delivery: Delivery) -> None:
    issue = session.get(Issue, delivery.issue_id)
    if issue is not None:
        preferences.unsubscribe(
            session,
            subscriber=subscriber,
            topic_ids=topic_ids(session, issue.newsletter_id),
            token=None,
        )
    flows.complained(session, subscriber=subscriber)
    suppress(session, subscriber.email, "complaint")
