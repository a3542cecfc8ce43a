"""Send me a new link": a person who lost their confirmation asks again with only their
address. Recorded through app.intake like a signup (same answer, same time); the job
mails a new link asking again for every consent still pending, keeping each request's
source (earlier links keep working for what they showed), or an "already subscribed"
note when everything is active, or nothing.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app import intake
from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentSource
from app.members.models import Member
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from app.subscribers.service import lock_subscriber, normalise_email, subscriber_by_email
from app.subscribers.signup import (
    LinkRequest,
    Requesting,
    queue_already_subscribed,
    send_links,
)


def accept_resend(session: Session, *, email: str) -> None:
    """ "Send me a new link", recorded like a signup (see `resend_confirmation`)."""
    intake.accept(session, "resend", {"email": normalise_email(email)})


@intake.register_handler("resend")
def _do_resend(session: Session, payload: dict[str, Any]) -> None:
    resend_confirmation(session, email=payload["email"])


def resend_confirmation(session: Session, *, email: str) -> None:
    """ "Send me a new link": a new link asking again for every consent still pending
    (earlier links keep working for what they showed), a note if all is active, nothing
    otherwise. The caller answers the same in every case."""
    address = normalise_email(email)
    found = subscriber_by_email(session, address)
    if found is None:
        return
    subscriber = lock_subscriber(session, found.id)  # type: ignore[arg-type]
    assert subscriber is not None
    rows = session.exec(
        select(Subscription, Topic)
        .join(Topic, col(Topic.id) == Subscription.topic_id)
        .where(Subscription.subscriber_id == subscriber.id)
        .order_by(Topic.name)
    ).all()
    asking: Requesting = []
    for subscription, topic in rows:
        for scope, state in (
            (ConsentScope.topic, subscription.status),
            (ConsentScope.sharing, subscription.sharing),
        ):
            if state == SubscriptionStatus.pending:
                source, member = _latest_request(session, subscriber, scope, topic)
                asking.append((scope, topic, source, member))
    if asking:
        send_links(session, [LinkRequest(subscriber, asking)], repermission=False)
    elif any(s.status == SubscriptionStatus.active for s, _ in rows):
        queue_already_subscribed(session, subscriber)


def _latest_request(
    session: Session, subscriber: Subscriber, scope: ConsentScope, topic: Topic
) -> tuple[ConsentSource, Member | None]:
    """Who asked last for this consent, so a new link keeps the request's source."""
    request = session.exec(
        select(ConsentEvent)
        .where(
            ConsentEvent.subscriber_key == subscriber.key,
            ConsentEvent.scope == scope,
            ConsentEvent.topic_id == topic.id,
            ConsentEvent.action == ConsentAction.requested,
        )
        .order_by(col(ConsentEvent.id).desc())
    ).first()
    if request is None:
        return ConsentSource.form, None
    member = session.get(Member, request.member_id) if request.member_id else None
    return request.source, member
