"""What other domains rely on: addresses and suppressions, signed subscriber links,
topic lookup, and the audience of active subscribers for the send pipeline.

Address HMACs and their keys: app/subscribers/suppression_keys.py.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, case, event, exists, func
from sqlmodel import Session, col, select

from app import signing
from app.config import get_settings
from app.members.models import Member
from app.subscribers.models import (
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Topic,
    TopicPublic,
    TopicStatus,
)
from app.subscribers.suppression_keys import address_hmac, find_suppression

# Long-lived on purpose: CAN-SPAM wants opt-outs to work 30+ days after a send;
# we honour them for two years.
PREFERENCES_MAX_AGE = 2 * 365 * 24 * 3600
UNSUBSCRIBE_MAX_AGE = 2 * 365 * 24 * 3600


class InvalidAddress(ValueError):
    """Not an email address we can use."""


def normalise_email(address: str) -> str:
    """The form every address is stored and compared in (no DNS lookups)."""
    try:
        result = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return result.normalized.lower()


def is_suppressed(session: Session, email: str) -> bool:
    return find_suppression(session, normalise_email(email)) is not None


def suppression_for(session: Session, email: str) -> Suppression | None:
    """The suppression holding `email` (under any key's pepper), or None."""
    return find_suppression(session, normalise_email(email))


def suppress(session: Session, email: str, reason: str) -> Suppression:
    """Never mail `email` again (idempotent). Keeps only the HMAC, the date and why."""
    address = normalise_email(email)
    found = find_suppression(session, address)
    if found is not None:
        return found
    suppression = Suppression(address_hmac=address_hmac(address), reason=reason[:40])
    session.add(suppression)
    session.flush()
    return suppression


def lift_suppressions(session: Session, email: str) -> list[str]:
    """Remove the suppression of `email` (under the pepper or a legacy one); returns the
    reasons lifted. Only a confirmed double opt-in may call this
    (app.subscribers.confirmation)."""
    address = normalise_email(email)
    reasons = []
    while (found := find_suppression(session, address)) is not None:
        reasons.append(found.reason)
        session.delete(found)
        session.flush()
    return reasons


def lock_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """Load the subscriber with its row locked until commit (PostgreSQL; SQLite has one
    writer anyway): every consent change of one person takes this lock first."""
    return session.exec(
        select(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


# Signed links ----------------------------------------------------------------------
# They carry the subscriber's id and a check derived from its random key, never the
# address: a link made for an erased subscriber never opens a later one whose row
# reused the id (SQLite may reuse ids).


def _check(subscriber: Subscriber) -> str:
    return hashlib.sha256(subscriber.key.encode()).hexdigest()[:12]


# Links are compact tokens (app.signing.sign_compact): one made for every recipient of
# every newsletter, so their cost counts. Links made before in itsdangerous' format
# keep working for as long as they ever did (CAN-SPAM: opt-outs must work 30+ days).


def preferences_token(subscriber: Subscriber) -> str:
    return signing.sign_compact(
        signing.Purpose.preferences, [format(subscriber.id or 0, "x"), _check(subscriber)]
    )


def unsubscribe_token(subscriber: Subscriber, topics: int | Sequence[int] | None) -> str:
    """One-click unsubscribe from one topic, from a newsletter's topics (a list), or from
    everything when `topics` is None."""
    if topics is None:
        scope = "all"
    elif isinstance(topics, int):
        scope = format(topics, "x")
    else:
        scope = "-".join(format(t, "x") for t in sorted(topics)) + "-"
    return signing.sign_compact(
        signing.Purpose.unsubscribe, [format(subscriber.id or 0, "x"), _check(subscriber), scope]
    )


def _compact_payload(fields: list[str]) -> dict:
    """A compact token's fields as the dict an itsdangerous token carried."""
    try:
        payload: dict = {"s": int(fields[0], 16), "c": fields[1]}
        if len(fields) == 3:
            scope = fields[2]
            if scope == "all":
                payload["t"] = None
            elif scope.endswith("-"):
                payload["t"] = [int(t, 16) for t in scope[:-1].split("-")]
            else:
                payload["t"] = int(scope, 16)
    except (IndexError, ValueError):
        raise signing.InvalidToken("this link is not valid") from None
    return payload


def preferences_url(subscriber: Subscriber) -> str:
    return f"{get_settings().base_url}/preferences/{preferences_token(subscriber)}"


def unsubscribe_url(
    subscriber: Subscriber, topics: int | Sequence[int] | None, language: str | None = None
) -> str:
    """The one-click unsubscribe link; a newsletter's names its language (`?lang=`), so
    the page it opens speaks the newsletter's language, not the subscriber's."""
    url = f"{get_settings().base_url}/u/{unsubscribe_token(subscriber, topics)}"
    return f"{url}?lang={language}" if language else url


def _payload(purpose: signing.Purpose, token: str, max_age: int) -> dict:
    if signing.is_compact(token):
        payload = _compact_payload(signing.unsign_compact(purpose, token, max_age=max_age))
    else:
        payload = signing.unsign(purpose, token, max_age=max_age)
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("s"), int)
        or not isinstance(payload.get("c"), str)
    ):
        raise signing.InvalidToken("this link is not valid")
    return payload


def _holder(session: Session, payload: dict) -> Subscriber | None:
    """The subscriber the link was made for; None once they are erased."""
    subscriber = session.get(Subscriber, payload["s"])
    if subscriber is None or not hmac.compare_digest(_check(subscriber), payload["c"]):
        return None
    return subscriber


def subscriber_from_preferences_token(session: Session, token: str) -> Subscriber | None:
    """Raises InvalidToken (or ExpiredToken) for a bad link; None when erased."""
    return _holder(session, _payload(signing.Purpose.preferences, token, PREFERENCES_MAX_AGE))


def _topic_ids(value: object) -> frozenset[int] | None:
    def is_id(item: object) -> bool:
        return isinstance(item, int) and not isinstance(item, bool)

    if value is None:
        return None
    if is_id(value):
        return frozenset([value])  # type: ignore[list-item]
    if isinstance(value, list) and value and all(is_id(item) for item in value):
        return frozenset(value)
    raise signing.InvalidToken("this link is not valid")


def subscriber_from_unsubscribe_token(
    session: Session, token: str
) -> tuple[Subscriber | None, frozenset[int] | None]:
    """(subscriber or None once erased, the topic ids, or None for everything)."""
    payload = _payload(signing.Purpose.unsubscribe, token, UNSUBSCRIBE_MAX_AGE)
    topics = _topic_ids(payload.get("t"))
    return _holder(session, payload), topics


# Topics -----------------------------------------------------------------------------


def public_topics(session: Session) -> list[Topic]:
    """Listed topics that take signups (hidden and archived ones leave public pages)."""
    return list(
        session.exec(
            select(Topic)
            .where(col(Topic.public).is_(True), col(Topic.status) == TopicStatus.open)
            .order_by(Topic.name)
        ).all()
    )


def topic_public(session: Session, topic: Topic) -> TopicPublic:
    owner = session.get(Member, topic.member_id) if topic.member_id else None
    return TopicPublic(
        slug=topic.slug,
        name=topic.name,
        description=topic.description,
        owner=owner.slug if owner else None,
    )


def topics_by_slug(
    session: Session, slugs: list[str], *, open_only: bool = True
) -> tuple[list[Topic], list[str]]:
    """(topics found, slugs unknown), in the order given, without duplicates. Signups
    see only open topics: a hidden or archived one is unknown to them."""
    wanted = list(dict.fromkeys(slugs))
    if open_only:
        return _open_topics(session, wanted)
    found = {t.slug: t for t in session.exec(select(Topic).where(col(Topic.slug).in_(wanted)))}
    return [found[s] for s in wanted if s in found], [s for s in wanted if s not in found]


# Every signup looks its topics up: open topics are remembered for a few seconds, as
# detached copies, and forgotten at once when this process changes a topic. Another
# process's change (an admin hiding a topic) takes effect here within OPEN_TOPICS_TTL;
# the signup job checks again that each topic is still open.
OPEN_TOPICS_TTL = 5.0
_open_topics_seen: dict[str, tuple[float, dict]] = {}


def forget_open_topics(*_args: object) -> None:
    _open_topics_seen.clear()


for _change in ("after_insert", "after_update", "after_delete"):
    event.listen(Topic, _change, forget_open_topics)


def _open_topics(session: Session, wanted: list[str]) -> tuple[list[Topic], list[str]]:
    now = time.monotonic()
    known = {}
    for slug in wanted:
        seen = _open_topics_seen.get(slug)
        if seen is not None and seen[0] > now:
            known[slug] = Topic(**seen[1])
    missing = [s for s in wanted if s not in known]
    if missing:
        query = select(Topic).where(
            col(Topic.slug).in_(missing), col(Topic.status) == TopicStatus.open
        )
        for topic in session.exec(query):
            known[topic.slug] = topic
            _open_topics_seen[topic.slug] = (now + OPEN_TOPICS_TTL, topic.model_dump())
    return [known[s] for s in wanted if s in known], [s for s in wanted if s not in known]


# The audience ------------------------------------------------------------------------


def active_subscriber_ids_query(topic_ids: list[int], *, sharing: bool = False) -> Select:
    """SELECT DISTINCT subscriber.id of everyone with an active subscription on any of
    `topic_ids` (with `sharing`, only those whose sharing consent is active too), minus
    suppressed addresses, ordered by id for keyset paging: add
    `.where(Subscriber.id > last_id).limit(n)` for each page."""
    suppressed = exists().where(col(Suppression.address_hmac) == col(Subscriber.address_hmac))
    query = (
        select(col(Subscriber.id))
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .where(
            col(Subscription.topic_id).in_(topic_ids),
            col(Subscription.status) == SubscriptionStatus.active,
            ~suppressed,
        )
        .distinct()
        .order_by(col(Subscriber.id))
    )
    if sharing:
        query = query.where(col(Subscription.sharing) == SubscriptionStatus.active)
    return query


def subscriber_by_email(session: Session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def member_topic_counts(session: Session, member_id: int) -> list[tuple[Topic, int, int]]:
    """A member's own topics with their active and pending subscription counts."""
    rows = session.exec(
        select(
            Topic,
            func.count(case((col(Subscription.status) == SubscriptionStatus.active, 1))),
            func.count(case((col(Subscription.status) == SubscriptionStatus.pending, 1))),
        )
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id), isouter=True)
        .where(Topic.member_id == member_id)
        .group_by(col(Topic.id))
        .order_by(Topic.name)
    ).all()
    return [(topic, int(active), int(pending)) for topic, active, pending in rows]
