"""The preference centre's services: switch topics and sharing, unsubscribe (including
RFC 8058 one-click), download my data, and erase me.

Erasure spans domains (subscribers, the consent ledger, queued transactional mail), so
it lives here, in one named place.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel import Session, col, delete, select

from app import flows, i18n
from app.consent.log import log_positions
from app.consent.models import ConsentAction, ConsentScope, ConsentSource, ConsentText
from app.consent.service import current_text, history, record_consent, token_digest
from app.i18n import ngettext
from app.mailing.models import TransactionalEmail
from app.sharing.models import SharingWithdrawal
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from app.subscribers.service import lock_subscriber, suppress, topic_public


def subscriptions_of(session: Session, subscriber: Subscriber) -> list[tuple[Subscription, Topic]]:
    return list(
        session.exec(
            select(Subscription, Topic)
            .join(Topic, col(Topic.id) == Subscription.topic_id)
            .where(Subscription.subscriber_id == subscriber.id)
            .order_by(Topic.name)
            .execution_options(populate_existing=True)
        ).all()
    )


def _subscriptions_to_change(
    session: Session, subscriber: Subscriber
) -> list[tuple[Subscription, Topic]]:
    """The person's subscriptions, read after locking their row: a change decided on
    what it reads stays right when the same link is pressed several times at once."""
    lock_subscriber(session, subscriber.id or 0)
    return subscriptions_of(session, subscriber)


def _withdraw(
    session: Session,
    subscriber: Subscriber,
    subscription: Subscription,
    topic: Topic,
    *,
    scopes: tuple[ConsentScope, ...],
    digest: str | None,
    actor_account_id: int | None = None,
) -> int:
    changed = 0
    for scope in scopes:
        state = subscription.status if scope == ConsentScope.topic else subscription.sharing
        if state in (SubscriptionStatus.active, SubscriptionStatus.pending):
            # Only what was given is withdrawn; a request never confirmed is declined.
            given = state == SubscriptionStatus.active
            record_consent(
                session,
                subscriber=subscriber,
                scope=scope,
                action=ConsentAction.withdrawn if given else ConsentAction.declined,
                source=ConsentSource.admin if actor_account_id else ConsentSource.form,
                consent_text=None,
                token_digest=digest,
                topic=topic,
                actor_account_id=actor_account_id,
            )
            changed += 1
    return changed


def withdraw_all_sharing(session: Session, *, subscriber: Subscriber, token: str | None) -> int:
    """Withdraw sharing consent on every topic (so from every member, now and later);
    the topics themselves stay. Returns how many consents changed."""
    digest = token_digest(token) if token else None
    return sum(
        _withdraw(
            session, subscriber, subscription, topic, scopes=(ConsentScope.sharing,), digest=digest
        )
        for subscription, topic in _subscriptions_to_change(session, subscriber)
    )


def unsubscribe(
    session: Session,
    *,
    subscriber: Subscriber,
    topic_ids: Collection[int] | None,
    token: str | None,
    actor_account_id: int | None = None,
) -> int:
    """Withdraw topics (and sharing on them), or everything when `topic_ids` is None.
    Idempotent: returns how many consents changed, 0 on a repeat. `actor_account_id`
    names the Club admin doing it for the person (the ledger records them)."""
    digest = token_digest(token) if token else None
    changed = 0
    for subscription, topic in _subscriptions_to_change(session, subscriber):
        if topic_ids is not None and topic.id not in topic_ids:
            continue
        # Sharing first: it rides on the topic, so it ends with it.
        changed += _withdraw(
            session,
            subscriber,
            subscription,
            topic,
            scopes=(ConsentScope.sharing, ConsentScope.topic),
            digest=digest,
            actor_account_id=actor_account_id,
        )
    return changed


class TopicsClosed(ValueError):
    """Topics the form tried to switch on that take no signups (hidden or archived)."""

    def __init__(self, topics: list[Topic]) -> None:
        self.topics = topics
        names = ", ".join(topic.name for topic in topics)
        super().__init__(
            ngettext(
                "%(topics)s no longer takes new subscribers, so it cannot be chosen.",
                "%(topics)s no longer take new subscribers, so they cannot be chosen.",
                len(topics),
                topics=names,
            )
        )


def update_preferences(
    session: Session,
    *,
    subscriber: Subscriber,
    topic_ids: set[int],
    sharing_topic_ids: set[int],
    token: str,
) -> None:
    """Make the subscriber's topics and sharing consent match the preference form.

    Sharing is chosen topic by topic (`sharing_topic_ids`), only on topics the person
    is on: a box left as it was changes nothing, and joining a topic never shares it.

    Switching a topic on here needs no second email: the preference link itself was
    mailed to this address, so the request and its confirmation are recorded together,
    both carrying that link's digest.

    A hidden or archived topic can be kept (or left) but not switched on: if the form
    asks for one, nothing is recorded and `TopicsClosed` names them."""
    digest = token_digest(token)
    mine = _subscriptions_to_change(session, subscriber)
    current = {topic.id: (sub, topic) for sub, topic in mine}
    joining = [
        topic
        for topic in session.exec(select(Topic).where(col(Topic.id).in_(topic_ids))).all()
        if (sub := current.get(topic.id, (None, topic))[0]) is None
        or sub.status != SubscriptionStatus.active
    ]
    closed = [topic for topic in joining if not topic.is_open]
    if closed:
        raise TopicsClosed(closed)
    for topic in joining:
        _request_and_confirm(session, subscriber, ConsentScope.topic, topic, digest)
    joined = {topic.id for topic in joining}
    for topic_id, (sub, topic) in current.items():
        if topic_id not in topic_ids:
            _withdraw(
                session,
                subscriber,
                sub,
                topic,
                scopes=(ConsentScope.sharing, ConsentScope.topic),
                digest=digest,
            )
    for sub, topic in subscriptions_of(session, subscriber):
        if sub.status != SubscriptionStatus.active or topic.id in joined:
            continue
        shares = sub.sharing == SubscriptionStatus.active
        if topic.id in sharing_topic_ids and not shares:
            _request_and_confirm(session, subscriber, ConsentScope.sharing, topic, digest)
        elif topic.id not in sharing_topic_ids and shares:
            _withdraw(
                session, subscriber, sub, topic, scopes=(ConsentScope.sharing,), digest=digest
            )


def _request_and_confirm(
    session: Session, subscriber: Subscriber, scope: ConsentScope, topic: Topic, digest: str
) -> None:
    # The words of the page the person ticked it on, in its language.
    consent_text = current_text(session, scope, i18n.current())
    for action in (ConsentAction.requested, ConsentAction.confirmed):
        record_consent(
            session,
            subscriber=subscriber,
            scope=scope,
            action=action,
            source=ConsentSource.form,
            consent_text=consent_text,
            token_digest=digest,
            topic=topic,
        )


def set_language(session: Session, *, subscriber: Subscriber, language: str) -> None:
    """The language of every email to this person from now on (one of app.i18n's)."""
    subscriber.language = language
    session.add(subscriber)
    session.flush()


def export_data(session: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about the person: "download my data"."""
    texts: dict[int, ConsentText] = {}
    events = []
    own = history(session, subscriber.key)
    positions = log_positions(session, [e.id for e in own if e.id])
    for event in own:
        if event.consent_text_id and event.consent_text_id not in texts:
            texts[event.consent_text_id] = session.get(ConsentText, event.consent_text_id)  # type: ignore[assignment]
        topic = session.get(Topic, event.topic_id) if event.topic_id else None
        events.append(
            {
                "event_id": event.id,
                "at": event.occurred_at.isoformat(),
                "scope": str(event.scope),
                "action": str(event.action),
                "topic": topic.slug if topic else None,
                "source": str(event.source),
                "consent_text_version": texts[event.consent_text_id].version
                if event.consent_text_id
                else None,
                "log_index": positions.get(event.id),  # its leaf in the public log
            }
        )
    return {
        "subscriber": {
            "email": subscriber.email,
            "first_name": subscriber.first_name,
            "language": subscriber.language,
            "key": subscriber.key,
            "created_at": subscriber.created_at.isoformat(),
        },
        "subscriptions": [
            {
                "topic": topic_public(session, topic).model_dump(),
                "status": str(sub.status),
                "sharing_with_members": str(sub.sharing) if sub.sharing else None,
                "updated_at": sub.updated_at.isoformat(),
            }
            for sub, topic in subscriptions_of(session, subscriber)
        ],
        "consent_history": events,
        "consent_texts": [
            {
                "scope": str(t.scope),
                "version": t.version,
                "language": t.language,
                "digest": t.digest,
                "text": t.body,
            }
            for t in texts.values()
        ],
    }


def erase(
    session: Session,
    *,
    subscriber: Subscriber,
    reason: str = "erased on request",
    actor_account_id: int | None = None,
) -> None:
    """Delete the person's data; keep only a Suppression (HMAC, date, reason) and the
    ledger, whose events name nobody (see app.consent.service). `actor_account_id`
    names the Club admin who erased the person on their behalf."""
    if lock_subscriber(session, subscriber.id or 0) is None:
        return  # erased a moment ago (the same button pressed twice at once)
    flows.erased(session, subscriber=subscriber)
    session.exec(
        delete(SharingWithdrawal).where(  # type: ignore[call-overload]
            col(SharingWithdrawal.subscriber_id) == subscriber.id
        )
    )
    record_consent(
        session,
        subscriber=subscriber,
        scope=ConsentScope.topic,
        action=ConsentAction.erased,
        source=ConsentSource.admin if actor_account_id else ConsentSource.form,
        consent_text=None,
        token_digest=None,
        actor_account_id=actor_account_id,
    )
    suppress(session, subscriber.email, reason)
    # Queued or recently sent mail holds the address and the person's links.
    session.exec(
        delete(TransactionalEmail).where(  # type: ignore[call-overload]
            col(TransactionalEmail.to_address) == subscriber.email
        )
    )
    session.exec(
        delete(Subscription).where(  # type: ignore[call-overload]
            col(Subscription.subscriber_id) == subscriber.id
        )
    )
    session.delete(subscriber)
    session.flush()
