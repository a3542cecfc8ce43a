"""THE one consent-change function, `record_consent`, and the versioned consent texts.

Every change of consent goes through `record_consent`: it inserts a ConsentEvent and
changes the subscription in the same transaction (the caller's; services never commit).
There is no lock and no read of any "head": many changes commit at once. The sequencer
(app.consent.log) then gives each committed event its place in the public Merkle log and
signs a checkpoint, so editing, removing or reordering any event afterwards shows
(`app.consent.verify`, and any monitor holding an older checkpoint). On PostgreSQL the
app's role may only SELECT and INSERT on the ledger (`coopclub db grant`), and a trigger
(migration 0003) refuses UPDATE and DELETE even to the owner until it is lifted.

Erasure and the ledger: events carry no personal data. They name the subscriber by
`Subscriber.key`, a random opaque value with no foreign key, so erasing a person
deletes the Subscriber row (address, first name) and their subscriptions, appends an
`erased` event, and leaves the log whole and verifiable. What remains cannot be
linked back to an address; the Suppression keeps only HMAC(pepper, address).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app import i18n, jobs
from app.consent.models import (
    ConsentAction,
    ConsentEvent,
    ConsentScope,
    ConsentSource,
    ConsentText,
)
from app.consent.texts import CONSENT_WORDING, consent_words
from app.db import utcnow
from app.members.models import Member
from app.metrics import CONSENT_EVENTS, count_after_commit
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic

# The English words, for callers that show English (see app.consent.texts for all).
CONSENT_TEXTS: dict[ConsentScope, str] = CONSENT_WORDING["en"]


def text_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


# Versions are never edited, only added: once this process knows the row holding the
# current words of a scope in a language, it keeps using it without asking the database.
_known_texts: dict[tuple[ConsentScope, str], dict[str, Any]] = {}


def forget_known_texts() -> None:
    """Tests empty the tables between cases, so they forget the known versions too."""
    _known_texts.clear()


def current_text(session: Session, scope: ConsentScope, language: str | None = None) -> ConsentText:
    """The consent text shown now for `scope` in `language` (None: the Club's default),
    creating its next version if the words changed. A known version comes from this
    process's memory, as a detached copy (no query)."""
    language = language if language in CONSENT_WORDING else i18n.default_language()
    known = _known_texts.get((scope, language))
    if known is not None and known["body"] == consent_words(scope, language):
        return ConsentText(**known)
    found = _find_or_make_text(session, scope, language)
    session.flush()
    # Remembered once the transaction that read (or made) it commits, never before: a
    # version made by a transaction that rolled back does not exist.
    session.info.setdefault(_TEXTS_KEY, {})[(scope, language)] = found.model_dump()
    return found


_TEXTS_KEY = "coopclub.consent_texts_seen"


@event.listens_for(OrmSession, "after_commit")
def _remember_texts(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return
    _known_texts.update(session.info.pop(_TEXTS_KEY, {}))


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_seen_texts(session: OrmSession, previous_transaction: object) -> None:
    if not getattr(previous_transaction, "nested", False):
        session.info.pop(_TEXTS_KEY, None)


def _find_or_make_text(session: Session, scope: ConsentScope, language: str) -> ConsentText:
    body = consent_words(scope, language)
    digest = text_digest(body)
    query = select(ConsentText).where(
        ConsentText.scope == scope, ConsentText.language == language, ConsentText.digest == digest
    )
    # A new wording: the unique (scope, version) refuses a second version made by a
    # concurrent first use. If the winner made these words, take its row; if it made
    # another language's, number ours after it.
    for _attempt in range(5):
        found = session.exec(query).first()
        if found is not None:
            return found
        latest = session.exec(
            select(ConsentText.version)
            .where(ConsentText.scope == scope)
            .order_by(col(ConsentText.version).desc())
        ).first()
        consent_text = ConsentText(
            scope=scope, version=(latest or 0) + 1, language=language, body=body, digest=digest
        )
        try:
            with session.begin_nested():
                session.add(consent_text)
        except IntegrityError:
            continue
        return consent_text
    raise RuntimeError(f"could not number a new {scope} consent text in {language}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_fields(event: ConsentEvent) -> dict[str, object]:
    """What every hash over an event covers: each of its fields, none of them personal.
    The admin who acted is covered only in events that name one, so every hash made
    before that field existed stays as it was."""
    fields: dict[str, object] = {
        "subscriber_key": event.subscriber_key,
        "scope": str(event.scope),
        "action": str(event.action),
        "topic_id": event.topic_id,
        "member_id": event.member_id,
        "source": str(event.source),
        "consent_text_id": event.consent_text_id,
        "token_digest": event.token_digest,
        "occurred_at": _timestamp(event.occurred_at),
    }
    if event.actor_account_id is not None:
        fields["actor_account_id"] = event.actor_account_id
    return fields


def event_hash(event: ConsentEvent) -> str:
    """The old chain's hash: sha256 over the canonical JSON of the fields, `seq` and
    `prev_hash`."""
    fields = {**event_fields(event), "seq": event.seq, "prev_hash": event.prev_hash}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_NEXT_STATUS = {
    ConsentAction.requested: SubscriptionStatus.pending,
    ConsentAction.confirmed: SubscriptionStatus.active,
    ConsentAction.withdrawn: SubscriptionStatus.unsubscribed,
}


@dataclass(frozen=True)
class ConsentChange:
    """One consent change to record (see `record_consent` for the fields)."""

    subscriber: Subscriber
    scope: ConsentScope
    action: ConsentAction
    source: ConsentSource
    consent_text: ConsentText | None
    token_digest: str | None
    topic: Topic | None = None
    member: Member | None = None
    actor_account_id: int | None = None


def _touches_subscription(change: ConsentChange) -> bool:
    """Whether the change moves a subscription row (erasure deletes the rows itself; a
    lifted suppression is not a subscription; sponsored consent has no state yet;
    sharing with one named member is app.sharing's state)."""
    if change.action in (ConsentAction.erased, ConsentAction.lifted):
        return False
    if change.scope == ConsentScope.sponsored:
        return False
    if change.scope == ConsentScope.sharing and change.topic is None and change.member is not None:
        return False
    if change.topic is None:
        raise ValueError(f"a {change.scope} consent needs a topic")
    return True


def _apply(session: Session, changes: list[ConsentChange]) -> None:
    """Change the subscriptions the events are about, in order, so state and ledger
    never disagree."""
    moving = [change for change in changes if _touches_subscription(change)]
    if not moving:
        return
    # Locked: two changes of one subscription take turns, so the later one's event has
    # the later id (the log's order) and the row ends as its last event says.
    subscriber_ids = sorted({change.subscriber.id for change in moving})  # type: ignore[type-var]
    topic_ids = sorted({change.topic.id for change in moving})  # type: ignore[union-attr,type-var]
    rows: dict[tuple[int, int], Subscription] = {}
    for start in range(0, len(subscriber_ids), _IN_LIMIT):
        for subscription in session.exec(
            select(Subscription)
            .where(
                col(Subscription.subscriber_id).in_(subscriber_ids[start : start + _IN_LIMIT]),
                col(Subscription.topic_id).in_(topic_ids),
            )
            .order_by(col(Subscription.id))
            .with_for_update()
        ):
            rows[(subscription.subscriber_id, subscription.topic_id)] = subscription
    new: dict[tuple[int, int], dict[str, Any]] = {}  # rows to insert, together
    for change in moving:
        key = (change.subscriber.id, change.topic.id)  # type: ignore[union-attr]
        if change.action == ConsentAction.declined:
            if not _decline(session, change, rows.get(key)):  # type: ignore[arg-type]
                rows.pop(key, None)  # type: ignore[arg-type]
            continue
        status = _NEXT_STATUS[change.action]
        subscription = rows.get(key)  # type: ignore[arg-type]
        if subscription is not None:
            if change.scope == ConsentScope.topic:
                subscription.status = status
            else:
                subscription.sharing = status
            subscription.updated_at = utcnow()
        elif key in new:
            new[key]["status" if change.scope == ConsentScope.topic else "sharing"] = status  # type: ignore[index]
            new[key]["updated_at"] = utcnow()  # type: ignore[index]
        elif change.scope == ConsentScope.sharing:
            raise ValueError("sharing consent needs a subscription to the topic first")
        else:
            new[key] = {  # type: ignore[index]
                "subscriber_id": key[0],
                "topic_id": key[1],
                "status": status,
                "sharing": None,
                "updated_at": utcnow(),
            }
    if new:
        session.execute(insert(Subscription), list(new.values()))


_IN_LIMIT = 1000  # ids per IN (...) list


def _decline(session: Session, change: ConsentChange, subscription: Subscription | None) -> bool:
    """A declined request leaves the consent as it was before it was asked: withdrawn
    if the person once gave it, otherwise never given (no sharing; no subscription).
    Returns False when the subscription row is gone (never given at all)."""
    if subscription is None:
        return False
    given_before = session.exec(
        select(ConsentEvent.id).where(
            ConsentEvent.subscriber_key == change.subscriber.key,
            ConsentEvent.scope == change.scope,
            ConsentEvent.topic_id == change.topic.id,  # type: ignore[union-attr]
            ConsentEvent.action == ConsentAction.confirmed,
        )
    ).first()
    before = SubscriptionStatus.unsubscribed if given_before is not None else None
    if change.scope == ConsentScope.sharing:
        subscription.sharing = before
    elif before is None and subscription.sharing is None:
        session.delete(subscription)
        return False
    else:
        subscription.status = before or SubscriptionStatus.unsubscribed
    subscription.updated_at = utcnow()
    return True


def record_consent(
    session: Session,
    *,
    subscriber: Subscriber,
    scope: ConsentScope,
    action: ConsentAction,
    source: ConsentSource,
    consent_text: ConsentText | None,
    token_digest: str | None,
    topic: Topic | None = None,
    member: Member | None = None,
    actor_account_id: int | None = None,
) -> ConsentEvent:
    """Append one ConsentEvent and make the subscription say the same thing.

    `member` is the member the consent concerns: the one whose form or API key
    collected it, or the one a sharing consent is about. `token_digest` is the sha256
    of the signed link that carried the request or confirmation (never the link).
    `actor_account_id` names the Club admin who made the change for the person.
    """
    change = ConsentChange(
        subscriber=subscriber,
        scope=scope,
        action=action,
        source=source,
        consent_text=consent_text,
        token_digest=token_digest,
        topic=topic,
        member=member,
        actor_account_id=actor_account_id,
    )
    return record_consents(session, [change])[0]


def record_consents(session: Session, changes: list[ConsentChange]) -> list[ConsentEvent]:
    """`record_consent` for many changes at once (in order), with a few statements for
    all of them: the people's rows locked together, their subscriptions read, written
    and the events inserted in bulk."""
    for change in changes:
        if (change.source == ConsentSource.admin) != (change.actor_account_id is not None):
            raise ValueError("a change by an admin (and only that) names the admin")
        if (
            change.action in (ConsentAction.requested, ConsentAction.confirmed)
            and change.consent_text is None
        ):
            raise ValueError("a request or confirmation must record the consent text shown")
    if not changes:
        return []
    # The people's rows first (in id order), then the ledger: one order for every
    # consent change, and callers that decided on state they read after taking this
    # lock stay right.
    subscriber_ids = sorted({change.subscriber.id for change in changes})  # type: ignore[type-var]
    for start in range(0, len(subscriber_ids), _IN_LIMIT):
        session.execute(
            select(Subscriber.id)
            .where(col(Subscriber.id).in_(subscriber_ids[start : start + _IN_LIMIT]))
            .order_by(col(Subscriber.id))
            .with_for_update()
        )
    _apply(session, changes)
    session.flush()  # the subscriptions' row locks are taken before the events get ids
    # One multi-row INSERT, in the changes' order (the ids, and so the log, follow it).
    events = session.scalars(
        insert(ConsentEvent).returning(ConsentEvent),
        [
            {
                "subscriber_key": change.subscriber.key,
                "scope": change.scope,
                "action": change.action,
                "topic_id": change.topic.id if change.topic else None,
                "member_id": change.member.id if change.member else None,
                "source": change.source,
                "consent_text_id": change.consent_text.id if change.consent_text else None,
                "token_digest": change.token_digest,
                "actor_account_id": change.actor_account_id,
                "occurred_at": utcnow(),
            }
            for change in changes
        ],
    ).all()
    for change in changes:
        count_after_commit(session, CONSENT_EVENTS, change.action.value)
    if any(change.action == ConsentAction.confirmed for change in changes):
        # Seal it into the log at once (after commit), so its receipt is ready; the
        # sequencer's own tick picks up everything else within a second.
        jobs.enqueue(session, jobs.SEQUENCE_LOG)
    return sorted(events, key=lambda event: event.id)  # type: ignore[arg-type,return-value]


def history(session: Session, subscriber_key: str) -> list[ConsentEvent]:
    return list(
        session.exec(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_key == subscriber_key)
            .order_by(col(ConsentEvent.id))
        ).all()
    )
