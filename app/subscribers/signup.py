"""Signing up and confirming: the one service under the hosted page, the embedded form,
the JSON API and the CSV import.

No enumeration: `request_subscription` behaves the same to its caller whatever state
the address is in; only the mail differs (a confirmation, an "already subscribed"
note, or nothing for a suppressed address), and it goes through the job queue.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import signing
from app.config import get_settings
from app.consent.models import (
    ConsentAction,
    ConsentEvent,
    ConsentScope,
    ConsentSource,
    ConsentText,
)
from app.consent.service import current_text, record_consent, token_digest
from app.mailing.service import queue_transactional
from app.members.models import Member
from app.sharing import credits as recruiting
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from app.subscribers.service import (
    address_hmac,
    is_suppressed,
    normalise_email,
    preferences_url,
    subscriber_by_email,
)

CONFIRM_MAX_AGE = 7 * 24 * 3600


class TokenUsed(signing.InvalidToken):
    """The link was genuine but has been used, or a newer one replaced it."""


@dataclass(frozen=True)
class Signup:
    email: str
    topics: list[Topic]
    source: ConsentSource
    first_name: str | None = None
    share_with_members: bool = False
    member: Member | None = None


@dataclass
class Outcome:
    """What happened, for the caller's logs and tests; never shown to the person."""

    requested: list[str] = field(default_factory=list)
    mailed: str | None = None  # "confirm", "already", or None


def confirm_token(subscriber_id: int, nonce: str) -> str:
    return signing.sign(signing.Purpose.confirm, {"s": subscriber_id, "n": nonce})


def _new_confirmation_link(subscriber: Subscriber) -> str:
    # A fresh nonce makes the link single use and retires any earlier link.
    subscriber.confirm_nonce = secrets.token_hex(8)
    return confirm_token(subscriber.id, subscriber.confirm_nonce)  # type: ignore[arg-type]


def _pending_topics(session: Session, subscriber: Subscriber) -> list[Topic]:
    return list(
        session.exec(
            select(Topic)
            .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
            .where(
                Subscription.subscriber_id == subscriber.id,
                (col(Subscription.status) == SubscriptionStatus.pending)
                | (col(Subscription.sharing) == SubscriptionStatus.pending),
            )
            .order_by(Topic.name)
        ).all()
    )


def _queue_confirmation(
    session: Session,
    subscriber: Subscriber,
    token: str,
    *,
    repermission: bool,
    topics: list[Topic] | None = None,
) -> None:
    if topics is None:
        topics = _pending_topics(session, subscriber)
    queue_transactional(
        session,
        kind="repermission" if repermission else "confirm-subscription",
        to=subscriber.email,
        subject="Please confirm you still want our newsletters"
        if repermission
        else "Please confirm your subscription",
        template="repermission" if repermission else "confirm_subscription",
        first_name=subscriber.first_name or "",
        topic_names=", ".join(t.name for t in topics),
        confirm_url=f"{get_settings().base_url}/confirm/{token}",
    )


def queue_already_subscribed(session: Session, subscriber: Subscriber) -> None:
    queue_transactional(
        session,
        kind="already-subscribed",
        to=subscriber.email,
        subject="You are already subscribed",
        template="already_subscribed",
        first_name=subscriber.first_name or "",
        preferences_url=preferences_url(subscriber),
    )


def _new_subscriber(session: Session, email: str, signup: Signup) -> Subscriber:
    """Insert the subscriber; if a simultaneous signup of the same address inserted it
    first (the unique email refuses ours), use theirs."""
    subscriber = Subscriber(
        email=email,
        address_hmac=address_hmac(email),
        first_name=signup.first_name or None,
        source_member_id=signup.member.id if signup.member else None,
    )
    try:
        with session.begin_nested():
            session.add(subscriber)
    except IntegrityError:
        existing = subscriber_by_email(session, email)
        if existing is None:
            raise
        return existing
    return subscriber


def request_subscription(session: Session, *, signup: Signup) -> Outcome:
    """Record the requests and queue the right mail; the caller answers the same either way.

    Raises `InvalidAddress` for an unusable address (a 4xx, the same for everyone)."""
    email = normalise_email(signup.email)
    outcome = Outcome()
    if is_suppressed(session, email):
        return outcome  # silently dropped: never mailed again
    subscriber = subscriber_by_email(session, email) or _new_subscriber(session, email, signup)
    existing = {
        s.topic_id: s
        for s in session.exec(
            select(Subscription).where(Subscription.subscriber_id == subscriber.id)
        )
    }
    to_request: list[tuple[ConsentScope, Topic]] = []
    for topic in signup.topics:
        subscription = existing.get(topic.id)  # type: ignore[arg-type]
        if subscription is None or subscription.status != SubscriptionStatus.active:
            to_request.append((ConsentScope.topic, topic))
        if signup.share_with_members and (
            subscription is None or subscription.sharing != SubscriptionStatus.active
        ):
            to_request.append((ConsentScope.sharing, topic))
    if not to_request:
        if signup.source != ConsentSource.import_:  # an import never mails active people
            queue_already_subscribed(session, subscriber)
        outcome.mailed = "already"
        return outcome
    token = _new_confirmation_link(subscriber)
    digest = token_digest(token)
    texts = {scope: current_text(session, scope) for scope, _ in to_request}
    # The email is rendered (the slow part) before the first ledger append: an append
    # holds the ledger's lock until commit, and every signup waits for that lock.
    # Afterwards pending = pending now + what is being requested.
    pending = {t.id: t for t in _pending_topics(session, subscriber)}
    pending.update((topic.id, topic) for _, topic in to_request)
    _queue_confirmation(
        session,
        subscriber,
        token,
        repermission=signup.source == ConsentSource.import_,
        topics=sorted(pending.values(), key=lambda t: t.name),
    )
    session.flush()  # write the rows above now, not while holding the ledger's lock
    for scope, topic in to_request:
        record_consent(
            session,
            subscriber=subscriber,
            scope=scope,
            action=ConsentAction.requested,
            source=signup.source,
            consent_text=texts[scope],
            token_digest=digest,
            topic=topic,
            member=signup.member,
        )
        outcome.requested.append(f"{scope}:{topic.slug}")
    outcome.mailed = "confirm"
    return outcome


def resend_confirmation(session: Session, *, email: str) -> None:
    """ "Send me a new link": a fresh confirmation if something is pending, a note if all
    is active, nothing otherwise. The caller answers the same in every case."""
    address = normalise_email(email)
    if is_suppressed(session, address):
        return
    subscriber = subscriber_by_email(session, address)
    if subscriber is None:
        return
    if _pending_topics(session, subscriber):
        token = _new_confirmation_link(subscriber)
        _queue_confirmation(session, subscriber, token, repermission=False)
    elif session.exec(
        select(Subscription.id).where(
            Subscription.subscriber_id == subscriber.id,
            Subscription.status == SubscriptionStatus.active,
        )
    ).first():
        queue_already_subscribed(session, subscriber)


def subscriber_for_confirmation(session: Session, token: str) -> Subscriber:
    """The subscriber a confirmation link belongs to; raises InvalidToken (or its
    ExpiredToken / TokenUsed kinds) when the link cannot be used."""
    payload = signing.unsign(signing.Purpose.confirm, token, max_age=CONFIRM_MAX_AGE)
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise signing.InvalidToken("this link is not valid")
    subscriber = session.get(Subscriber, payload["s"])
    if subscriber is None or not subscriber.confirm_nonce:
        raise TokenUsed("this link has already been used")
    if not secrets.compare_digest(subscriber.confirm_nonce, str(payload.get("n", ""))):
        raise TokenUsed("a newer link replaced this one")
    return subscriber


def pending_topics(session: Session, subscriber: Subscriber) -> list[Topic]:
    return _pending_topics(session, subscriber)


def confirm(session: Session, *, token: str) -> list[ConsentEvent]:
    """Confirm everything the link's requests asked for; returns the confirmed events."""
    subscriber = subscriber_for_confirmation(session, token)
    subscriber.confirm_nonce = None
    digest = token_digest(token)
    requests = session.exec(
        select(ConsentEvent)
        .where(
            ConsentEvent.subscriber_key == subscriber.key,
            ConsentEvent.action == ConsentAction.requested,
        )
        .order_by(col(ConsentEvent.id))
    ).all()
    subscriptions = {
        s.topic_id: s
        for s in session.exec(
            select(Subscription).where(Subscription.subscriber_id == subscriber.id)
        )
    }
    to_confirm: list[ConsentEvent] = []
    seen: set[tuple[ConsentScope, int | None]] = set()
    for request in reversed(requests):  # the latest request per scope and topic
        target = (request.scope, request.topic_id)
        if target in seen or request.topic_id is None:
            continue
        seen.add(target)
        subscription = subscriptions.get(request.topic_id)
        if subscription is None:
            continue
        state = subscription.status if request.scope == ConsentScope.topic else subscription.sharing
        if state == SubscriptionStatus.pending:
            to_confirm.append(request)
    confirmed: list[ConsentEvent] = []
    # In request order, so a topic is confirmed before the sharing consent on it.
    for request in sorted(to_confirm, key=lambda r: r.id or 0):
        topic = session.get(Topic, request.topic_id)
        member = session.get(Member, request.member_id) if request.member_id else None
        confirmed.append(
            record_consent(
                session,
                subscriber=subscriber,
                scope=request.scope,
                action=ConsentAction.confirmed,
                source=request.source,
                # The confirmation is of the words shown when it was asked for.
                consent_text=session.get(ConsentText, request.consent_text_id),
                token_digest=digest,
                topic=topic,
                member=member,
            )
        )
    recruiting.earn_for_confirmation(session, subscriber=subscriber, confirmed=confirmed)
    return confirmed
