"""What happens elsewhere when a subscriber's life changes: the one place where a
confirmation, an erasure, a hard bounce or a complaint reaches the domains that react
to it (today: recruiting credits). Signup, the preference centre and bounce handling
call these and know nothing of who listens; each runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from app.consent.models import ConsentEvent
from app.recruiting import service as recruiting
from app.subscribers.models import Subscriber


def confirmed(session: Session, *, subscriber: Subscriber, events: Sequence[ConsentEvent]) -> None:
    """The person confirmed these consents (a link from their confirmation email)."""
    recruiting.hold_for_confirmation(session, subscriber=subscriber, confirmed=events)


def erased(session: Session, *, subscriber: Subscriber) -> None:
    """Called before the person's data is deleted (it still names them)."""
    recruiting.cancel(session, subscriber=subscriber, reason="erased")


def hard_bounced(session: Session, *, subscriber: Subscriber) -> None:
    recruiting.cancel(session, subscriber=subscriber, reason="hard-bounce")


def complained(session: Session, *, subscriber: Subscriber) -> None:
    recruiting.cancel(session, subscriber=subscriber, reason="complaint")
