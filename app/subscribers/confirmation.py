"""Confirmation links: each mailed link confirms exactly the consents its email showed.

A link is a `ConfirmationLink` row plus a signed token (subscriber id and a random
nonce). The consents it asks for are the `requested` ledger events carrying the
token's digest, written in the same transaction as the link and never added to later,
so several links can be outstanding at once and each confirms only its own requests.
Sharing is its own choice on the confirmation page: a sharing request is confirmed
only for the topics the person ticks there. A link works once; opening it again shows
what the person is now subscribed to.

Every consent change of one person starts by locking that person's subscriber row
(`record_consent` does it too), so two confirmations, or a confirmation and a new
signup, of the same person never both act on the same pending state.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from app import flows, signing
from app.consent.models import ConsentAction, ConsentEvent, ConsentScope, ConsentText
from app.consent.service import record_consent, token_digest
from app.db import utcnow
from app.members.models import Member
from app.subscribers.models import (
    ConfirmationLink,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Topic,
)
from app.subscribers.service import lift_suppressions, lock_subscriber

CONFIRM_MAX_AGE = 7 * 24 * 3600


class TokenUsed(signing.InvalidToken):
    """The link is genuine and was already used; `subscriber` is whose it is."""

    def __init__(self, message: str, subscriber: Subscriber) -> None:
        super().__init__(message)
        self.subscriber = subscriber


def new_link(session: Session, subscriber: Subscriber) -> str:
    """A new confirmation link for `subscriber`; bind requests to it with its digest."""
    return new_links(session, [subscriber])[0]


def new_links(session: Session, subscribers: list[Subscriber]) -> list[str]:
    """A new link for each of `subscribers` (one INSERT for all), in order."""
    tokens = [
        signing.sign(signing.Purpose.confirm, {"s": subscriber.id, "n": secrets.token_hex(8)})
        for subscriber in subscribers
    ]
    session.execute(
        insert(ConfirmationLink),
        [
            {"subscriber_id": s.id, "token_digest": token_digest(t), "created_at": utcnow()}
            for s, t in zip(subscribers, tokens, strict=True)
        ],
    )
    return tokens


@dataclass(frozen=True)
class Asked:
    """One consent a link asks for, with the words its email showed."""

    request: ConsentEvent
    topic: Topic
    text: ConsentText


@dataclass
class LinkView:
    link: ConfirmationLink
    subscriber: Subscriber
    topics: list[Asked] = field(default_factory=list)  # topic consents still waiting
    sharing: list[Asked] = field(default_factory=list)  # sharing consents still waiting
    # The link's topic requests answered since (through another link, or turned down):
    # the topics the person now receives, and those a newer email asks for again.
    already: list[Topic] = field(default_factory=list)
    replaced: list[Topic] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return bool(self.topics or self.sharing)


def _read(session: Session, token: str, *, lock: bool) -> tuple[ConfirmationLink, Subscriber]:
    payload = signing.unsign(signing.Purpose.confirm, token, max_age=CONFIRM_MAX_AGE)
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise signing.InvalidToken("this link is not valid")
    subscriber = (
        lock_subscriber(session, payload["s"]) if lock else session.get(Subscriber, payload["s"])
    )
    link = session.exec(
        select(ConfirmationLink).where(ConfirmationLink.token_digest == token_digest(token))
    ).first()
    if subscriber is None or link is None or link.subscriber_id != subscriber.id:
        # Erased since (the link went with the person), or never ours.
        raise signing.InvalidToken("this link is not valid")
    if link.confirmed_at is not None:
        raise TokenUsed("this link has already been used", subscriber)
    return link, subscriber


def _waiting(session: Session, link: ConfirmationLink, subscriber: Subscriber) -> LinkView:
    """The link's requests whose consent is still pending, in the order they were asked."""
    view = LinkView(link=link, subscriber=subscriber)
    requests = session.exec(
        select(ConsentEvent)
        .where(
            ConsentEvent.subscriber_key == subscriber.key,
            ConsentEvent.action == ConsentAction.requested,
            ConsentEvent.token_digest == link.token_digest,
        )
        .order_by(col(ConsentEvent.id))
    ).all()
    subscriptions = {
        s.topic_id: s
        for s in session.exec(
            select(Subscription)
            .where(Subscription.subscriber_id == subscriber.id)
            .execution_options(populate_existing=True)
        )
    }
    # A request is answered once a later event settled its consent (confirmed through
    # any link, declined, withdrawn): this link then has nothing left to ask for it.
    last_answer = {
        (scope, topic_id): last
        for scope, topic_id, last in session.exec(
            select(ConsentEvent.scope, ConsentEvent.topic_id, func.max(ConsentEvent.id))
            .where(
                ConsentEvent.subscriber_key == subscriber.key,
                col(ConsentEvent.action).in_(_ANSWERS),
            )
            .group_by(ConsentEvent.scope, ConsentEvent.topic_id)
        ).all()
    }
    # Topics before sharing, so a sharing request sees whether its topic waits too.
    for request in sorted(requests, key=lambda r: (r.scope != ConsentScope.topic, r.id or 0)):
        subscription = subscriptions.get(request.topic_id)  # type: ignore[arg-type]
        if subscription is None or request.consent_text_id is None:
            continue
        topic = session.get(Topic, request.topic_id)
        text = session.get(ConsentText, request.consent_text_id)
        assert topic is not None and text is not None
        if last_answer.get((request.scope, request.topic_id), 0) > (request.id or 0):
            if request.scope == ConsentScope.topic:
                if subscription.status == SubscriptionStatus.active:
                    view.already.append(topic)
                elif subscription.status == SubscriptionStatus.pending:
                    view.replaced.append(topic)
            continue
        if request.scope == ConsentScope.topic:
            if subscription.status == SubscriptionStatus.pending:
                view.topics.append(Asked(request, topic, text))
        elif request.scope == ConsentScope.sharing:
            # Sharing rides on the topic: waiting if the topic is, or will be, active.
            topic_waits = any(a.topic.id == topic.id for a in view.topics)
            if subscription.sharing == SubscriptionStatus.pending and (
                subscription.status == SubscriptionStatus.active or topic_waits
            ):
                view.sharing.append(Asked(request, topic, text))
    return view


_ANSWERS = (ConsentAction.confirmed, ConsentAction.declined, ConsentAction.withdrawn)


def open_link(session: Session, token: str) -> LinkView:
    """What the link would confirm now, without using it (mail scanners open links).
    Raises InvalidToken, ExpiredToken, or TokenUsed (which names the subscriber)."""
    link, subscriber = _read(session, token, lock=False)
    return _waiting(session, link, subscriber)


def confirm(
    session: Session, *, token: str, sharing_topic_ids: Collection[int] = ()
) -> list[ConsentEvent]:
    """Use the link: confirm its waiting topic consents, and its sharing consents on the
    topics in `sharing_topic_ids` (the ones the person ticked). Returns the confirmed
    events; a link used before raises TokenUsed and records nothing."""
    link, subscriber = _read(session, token, lock=True)
    claimed = session.execute(
        update(ConfirmationLink)
        .where(col(ConfirmationLink.id) == link.id, col(ConfirmationLink.confirmed_at).is_(None))
        .values(confirmed_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenUsed("this link has already been used", subscriber)
    view = _waiting(session, link, subscriber)
    chosen = set(sharing_topic_ids)
    asked = view.topics + [a for a in view.sharing if a.topic.id in chosen]
    digest = token_digest(token)
    confirmed: list[ConsentEvent] = []
    for item in asked:  # topics first, so sharing finds its topic active
        confirmed.append(_answer(session, subscriber, item, ConsentAction.confirmed, digest))
    for item in view.sharing:
        if item.topic.id not in chosen:  # left unticked: no offers on this topic
            _answer(session, subscriber, item, ConsentAction.declined, digest)
    if view.topics:
        _lift_suppression(session, subscriber, confirmed[0], digest)
    flows.confirmed(session, subscriber=subscriber, events=confirmed)
    return confirmed


def _answer(
    session: Session, subscriber: Subscriber, item: Asked, action: ConsentAction, digest: str
) -> ConsentEvent:
    """Record the person's answer to one request on its link, with the words the email
    showed (a confirmation, or a decline of a sharing box left unticked)."""
    request = item.request
    return record_consent(
        session,
        subscriber=subscriber,
        scope=request.scope,
        action=action,
        source=request.source,
        consent_text=item.text,
        token_digest=digest,
        topic=item.topic,
        member=session.get(Member, request.member_id) if request.member_id else None,
    )


def _lift_suppression(
    session: Session, subscriber: Subscriber, confirmation: ConsentEvent, digest: str
) -> None:
    """A confirmed double opt-in is the one thing that lifts a suppression (after
    erasure, an unsubscribe, a hard bounce or a complaint); the ledger records it."""
    if not lift_suppressions(session, subscriber.email):
        return
    record_consent(
        session,
        subscriber=subscriber,
        scope=ConsentScope.topic,
        action=ConsentAction.lifted,
        source=confirmation.source,
        consent_text=None,
        token_digest=digest,
    )


def subscriber_of(session: Session, token: str) -> Subscriber | None:
    """Whose link this is (a genuine, unexpired one), used or not; None once erased."""
    payload = signing.unsign(signing.Purpose.confirm, token, max_age=CONFIRM_MAX_AGE)
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise signing.InvalidToken("this link is not valid")
    return session.get(Subscriber, payload["s"])


def subscribed_topics(session: Session, subscriber: Subscriber) -> list[Topic]:
    """The topics the person receives now (names only are ever shown from a link)."""
    return list(
        session.exec(
            select(Topic)
            .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
            .where(
                Subscription.subscriber_id == subscriber.id,
                Subscription.status == SubscriptionStatus.active,
            )
            .order_by(Topic.name)
        ).all()
    )
