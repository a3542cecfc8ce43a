"""Subscribers in every state, made through the real services (so the ledger is true),
and bulk audiences for volume tests."""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import select

from app.consent.models import ConsentSource
from app.db import session_scope, utcnow
from app.newsletters.models import Issue
from app.sending import lifecycle
from app.subscribers import preferences
from app.subscribers.confirmation import confirm
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from app.subscribers.service import address_hmac, suppress
from app.subscribers.signup import Signup, request_subscription


def _topics(session, topics: list[Topic]) -> list[Topic]:
    return [session.get(Topic, t.id) for t in topics]


def pending(email: str, topics: list[Topic], first_name: str | None = None) -> str | None:
    """Returns the mailed confirmation link's token."""
    with session_scope() as session:
        return request_subscription(
            session,
            signup=Signup(
                email=email,
                topics=_topics(session, topics),
                source=ConsentSource.form,
                first_name=first_name,
            ),
        ).token


def active(email: str, topics: list[Topic], first_name: str | None = None) -> Subscriber:
    token = pending(email, topics, first_name)
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        confirm(session, token=token)
    return subscriber


def unsubscribed(email: str, topics: list[Topic]) -> None:
    subscriber = active(email, topics)
    with session_scope() as session:
        preferences.unsubscribe(
            session, subscriber=session.get(Subscriber, subscriber.id), topic_ids=None, token=None
        )


def suppressed(email: str, topics: list[Topic]) -> None:
    active(email, topics)
    with session_scope() as session:
        suppress(session, email, "test")


def bulk_active(count: int, topic: Topic, prefix: str = "reader") -> list[str]:
    """Many active subscribers at once, for volume tests (no ledger history)."""
    emails = [f"{prefix}{n}@example.org" for n in range(count)]
    with session_scope() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": e,
                    "address_hmac": address_hmac(e),
                    "key": f"{prefix}{n:028d}"[-32:],
                    "created_at": utcnow(),
                }
                for n, e in enumerate(emails)
            ],
        )
        ids = session.exec(select(Subscriber.id).where(Subscriber.email.in_(emails))).all()
        session.execute(
            insert(Subscription),
            [
                {
                    "subscriber_id": i,
                    "topic_id": topic.id,
                    "status": SubscriptionStatus.active.value,
                    "updated_at": utcnow(),
                }
                for i in ids
            ],
        )
    return emails


def start_now(issue: Issue) -> None:
    with session_scope() as session:
        lifecycle.start(session, session.get(Issue, issue.id))
