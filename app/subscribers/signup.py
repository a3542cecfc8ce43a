"""Signing up: the one service under the hosted page, the embedded form, the JSON API
and the CSV import. Each signup that asks for something gets its own confirmation link
(app.subscribers.confirmation), bound to exactly the consents its email lists.

Same answer, same time: a request from a person (`accept_signup`, or `accept_resend`
in app.subscribers.resend) checks only what was typed, then records it through
app.intake, the same insert whatever state the address is in; the intake job runs
`request_subscription` (or `resend_confirmation`), which does the state-dependent work
and queues the right mail (a confirmation or an "already subscribed" note). The CSV
import, a job already, calls `request_subscriptions` directly, a piece of rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from app import i18n, intake
from app.config import get_settings
from app.consent.models import (
    ConsentAction,
    ConsentScope,
    ConsentSource,
    ConsentText,
)
from app.consent.service import ConsentChange, current_text, record_consents, token_digest
from app.db import utcnow
from app.mailing.message import needs_smtputf8
from app.mailing.models import TransactionalEmail
from app.mailing.service import queue_rows, queue_transactional, transactional_row
from app.mailing.transport import server_takes_utf8_addresses
from app.members.models import Member
from app.subscribers.confirmation import new_links
from app.subscribers.models import (
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Topic,
    TopicStatus,
    new_subscriber_key,
)
from app.subscribers.service import (
    InvalidAddress,
    address_hmac,
    normalise_email,
    preferences_url,
)
from app.subscribers.suppression_keys import suppressions_of


@dataclass(frozen=True)
class Signup:
    email: str
    topics: list[Topic]
    source: ConsentSource
    first_name: str | None = None
    share_with_members: bool = False
    member: Member | None = None
    # The language of the page or API call (app.i18n): the words shown were in it, so
    # the confirmation is too; a new subscriber keeps it as theirs.
    language: str | None = None
    # The consent text versions the person saw when asking (the intake job knows them),
    # used when they are in the email's language; else the current ones in it.
    shown: dict[ConsentScope, ConsentText] | None = None


@dataclass
class Outcome:
    """What happened, for the caller's logs and tests; never shown to the person."""

    requested: list[str] = field(default_factory=list)
    mailed: str | None = None  # "confirm", "already", or None
    token: str | None = None  # the confirmation link's token, when one was mailed


# (scope, topic, words shown): one consent asked for in a confirmation email.
Asking = tuple[ConsentScope, Topic, ConsentText]


def _confirmation_row(
    subscriber: Subscriber,
    token: str,
    asking: list[Asking],
    *,
    repermission: bool,
    language: str | None,
) -> TransactionalEmail:
    """The email lists every consent its link asks for, each with its exact words (in
    `language`, which the email is written in)."""
    topics = [(topic, text) for scope, topic, text in asking if scope == ConsentScope.topic]
    sharing = [(topic, text) for scope, topic, text in asking if scope == ConsentScope.sharing]
    return transactional_row(
        kind="repermission" if repermission else "confirm-subscription",
        to=subscriber.email,
        subject=i18n.lazy_gettext("Please confirm you still want our newsletters")
        if repermission
        else i18n.lazy_gettext("Please confirm your subscription"),
        template="repermission" if repermission else "confirm_subscription",
        language=language,
        first_name=subscriber.first_name or "",
        topic_names=", ".join(topic.name for topic, _ in topics),
        topic_text=topics[0][1].body if topics else "",
        topic_text_version=topics[0][1].version if topics else None,
        sharing_topic_names=", ".join(topic.name for topic, _ in sharing),
        sharing_text=sharing[0][1].body if sharing else "",
        sharing_text_version=sharing[0][1].version if sharing else None,
        confirm_url=f"{get_settings().base_url}/confirm/{token}",
    )


def queue_already_subscribed(
    session: Session, subscriber: Subscriber, language: str | None = None
) -> None:
    queue_transactional(
        session,
        kind="already-subscribed",
        to=subscriber.email,
        subject=i18n.lazy_gettext("You are already subscribed"),
        template="already_subscribed",
        language=language or subscriber.language,
        first_name=subscriber.first_name or "",
        preferences_url=preferences_url(subscriber),
    )


def _subscribers(
    session: Session, signups: list[tuple[str, Signup]]
) -> tuple[dict[str, Subscriber], set[str]]:
    """Each address's subscriber, its row locked until commit (in id order): the ones
    on the list already, and new rows for the others. If a simultaneous signup of an
    address inserted it first (the unique email refuses ours), theirs is used. Also the
    addresses inserted here (so they have no subscriptions yet)."""
    emails = [email for email, _ in signups]
    found = _lock_by_email(session, emails)
    new = [
        {
            "key": new_subscriber_key(),
            "email": email,
            "address_hmac": address_hmac(email),
            "first_name": signup.first_name or None,
            "source_member_id": signup.member.id if signup.member else None,
            "language": signup.language,
            "created_at": utcnow(),
        }
        for email, signup in signups
        if email not in found
    ]
    inserted: set[str] = set()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(new), _INSERT_ROWS):
        statement = (
            dialect.insert(Subscriber)
            .values(new[start : start + _INSERT_ROWS])
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(Subscriber)
        )
        for subscriber in session.scalars(statement):
            found[subscriber.email] = subscriber
            inserted.add(subscriber.email)
    raced = [email for email in emails if email not in found]
    if raced:
        found.update(_lock_by_email(session, raced))
    return found, inserted


_INSERT_ROWS = 500  # rows per multi-row INSERT (bind parameters stay under every limit)


def _lock_by_email(session: Session, emails: list[str]) -> dict[str, Subscriber]:
    locked: dict[str, Subscriber] = {}
    for start in range(0, len(emails), 1000):
        for subscriber in session.exec(
            select(Subscriber)
            .where(col(Subscriber.email).in_(emails[start : start + 1000]))
            .order_by(col(Subscriber.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            locked[subscriber.email] = subscriber
    return locked


# A person to mail a new link to, and the consents it asks for (scope, topic, source,
# member), in the order the email and the ledger list them.
Requesting = list[tuple[ConsentScope, Topic, ConsentSource, Member | None]]


@dataclass(frozen=True)
class LinkRequest:
    subscriber: Subscriber
    asking: Requesting
    language: str | None = None  # the email's; None: the subscriber's
    shown: dict[ConsentScope, ConsentText] | None = None  # see `Signup.shown`


def send_links(
    session: Session,
    requests: list[LinkRequest],
    *,
    repermission: bool,
) -> list[Outcome]:
    """For each request: make a new link, bind exactly its `asking` to it in the ledger,
    and mail it in its language (else the subscriber's), with the text versions the
    person saw (`shown`) where they are in that language, else the current ones in it.
    The links, emails and ledger events of all the requests are written together."""
    outcomes, mails, changes = [], [], []
    texts: dict[tuple[ConsentScope, str], ConsentText] = {}
    tokens = new_links(session, [request.subscriber for request in requests])
    for request, token in zip(requests, tokens, strict=True):
        subscriber = request.subscriber
        outcome = Outcome(mailed="confirm")
        digest = token_digest(token)
        language = request.language or subscriber.language or i18n.default_language()
        for scope, *_ in request.asking:
            seen = (request.shown or {}).get(scope)
            if seen and seen.language == language:
                texts[(scope, language)] = seen
            elif (scope, language) not in texts:
                texts[(scope, language)] = current_text(session, scope, language)
        mails.append(
            _confirmation_row(
                subscriber,
                token,
                [(scope, topic, texts[(scope, language)]) for scope, topic, *_ in request.asking],
                repermission=repermission,
                language=language,
            )
        )
        for scope, topic, source, member in request.asking:
            changes.append(
                ConsentChange(
                    subscriber=subscriber,
                    scope=scope,
                    action=ConsentAction.requested,
                    source=source,
                    consent_text=texts[(scope, language)],
                    token_digest=digest,
                    topic=topic,
                    member=member,
                )
            )
            outcome.requested.append(f"{scope}:{topic.slug}")
        outcome.token = token
        outcomes.append(outcome)
    queue_rows(session, mails)
    record_consents(session, changes)
    return outcomes


def usable_address(address: str) -> str:
    """The address normalised, or `InvalidAddress` (the same 4xx for everyone)."""
    email = normalise_email(address)
    if needs_smtputf8(email) and not server_takes_utf8_addresses(get_settings()):
        raise InvalidAddress(
            "our mail server cannot yet deliver to an address with characters outside "
            "ASCII before the @: please use another address"
        )
    return email


def accept_signup(session: Session, *, signup: Signup) -> None:
    """A person's signup request: check the address, record the request with the text
    versions on the page, and leave the rest to the intake job. The same statements
    whatever state the address is in. Raises `InvalidAddress`."""
    email = usable_address(signup.email)
    # The page's (or the API call's) language, else the language of the request.
    language = signup.language or i18n.current()
    texts = {scope: current_text(session, scope, language) for scope in _SHOWN_SCOPES}
    intake.accept(
        session,
        "subscribe",
        {
            "email": email,
            "topics": [topic.id for topic in signup.topics],
            "source": str(signup.source),
            "first_name": signup.first_name or None,
            "share": signup.share_with_members,
            "member": signup.member.id if signup.member else None,
            "texts": {str(scope): text.id for scope, text in texts.items()},
            "language": language,
        },
    )


# The consent texts every signup form shows (the sharing one beside its checkbox).
_SHOWN_SCOPES = (ConsentScope.topic, ConsentScope.sharing)


_READ_IN_BATCH = "coopclub.signup_rows"


def _get(session: Session, model: type[Any], row_id: int) -> Any:
    """`session.get`, remembered for the rest of the transaction: a batch of signups
    (app.intake) names the same few topics and texts, and the session's identity map
    lets go of a row as soon as nothing holds it."""
    transaction = session.get_transaction()
    held = session.info.get(_READ_IN_BATCH)
    if held is None or held[0] is not transaction:
        held = session.info[_READ_IN_BATCH] = (transaction, {})
    key = (model, row_id)
    if key not in held[1]:
        held[1][key] = session.get(model, row_id)
    return held[1][key]


@intake.register_many_handler("subscribe")
def _do_signups(session: Session, payloads: list[dict[str, Any]]) -> None:
    """Signup requests, many at once: to `request_subscriptions` in rounds of one request
    per address (a person's requests in the order they came), each round in address
    order, so that batches running at once insert people in the same order (and lock
    the ones already here in id order, in the first round's one statement)."""
    signups: list[Signup] = []
    for payload in payloads:
        # Still open: the request may have seen a topic an admin closed moments before.
        topics = [_get(session, Topic, topic_id) for topic_id in payload["topics"]]
        topics = [t for t in topics if t is not None and t.status == TopicStatus.open]
        shown = {
            ConsentScope(scope): text
            for scope, text_id in payload["texts"].items()
            if (text := _get(session, ConsentText, text_id)) is not None
        }
        try:
            email = usable_address(payload["email"])
        except InvalidAddress:
            continue  # the mail server stopped taking such addresses since: nothing to send
        signup = Signup(
            email=email,
            topics=topics,
            source=ConsentSource(payload["source"]),
            first_name=payload["first_name"],
            share_with_members=payload["share"],
            member=_get(session, Member, payload["member"]) if payload["member"] else None,
            language=payload.get("language"),
            shown=shown,
        )
        signups.append(signup)
    for round_ in _rounds(signups):
        request_subscriptions(session, round_)


def _rounds(signups: list[Signup]) -> list[list[Signup]]:
    """Each address once per round, its signups in order; each round sorted by address."""
    rounds: list[list[Signup]] = []
    seen: dict[str, int] = {}
    for signup in signups:
        turn = seen[signup.email] = seen.get(signup.email, -1) + 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(signup)
    return [sorted(round_, key=lambda signup: signup.email) for round_ in rounds]


def request_subscription(session: Session, *, signup: Signup) -> Outcome:
    """Record the requests, bound to a new link, and queue the right mail; the caller
    answers the same either way. `request_subscriptions` for one person.

    A suppressed address (erased, unsubscribed, bounced, complained) asking again gets
    its confirmation like anyone: only confirming lifts the suppression. An import
    never re-asks a suppressed address. Raises `InvalidAddress` for an unusable address
    (a 4xx, the same for everyone)."""
    return request_subscriptions(session, [signup])[0]


def request_subscriptions(session: Session, signups: list[Signup]) -> list[Outcome]:
    """`request_subscription` for many people at once (each address once), each one's
    outcome in order: their suppressions, subscribers and subscriptions are read, and
    their subscribers, links, emails and ledger events written, a few statements for
    all of them."""
    emails = [usable_address(signup.email) for signup in signups]
    if len(set(emails)) != len(emails):
        raise ValueError("each address once per call")
    suppressed = set(suppressions_of(session, emails))
    outcomes: dict[str, Outcome] = {}
    wanted: list[tuple[str, Signup]] = []
    for email, signup in zip(emails, signups, strict=True):
        if email in suppressed and signup.source == ConsentSource.import_:
            outcomes[email] = Outcome()
        else:
            wanted.append((email, signup))
    subscribers, inserted = _subscribers(session, wanted)
    existing: dict[tuple[int, int], Subscription] = {}
    # A subscriber inserted just now has no subscriptions to look up.
    ids = [subscriber.id for email, subscriber in subscribers.items() if email not in inserted]
    for start in range(0, len(ids), 1000):
        for subscription in session.exec(
            select(Subscription)
            .where(col(Subscription.subscriber_id).in_(ids[start : start + 1000]))
            .execution_options(populate_existing=True)
        ):
            existing[(subscription.subscriber_id, subscription.topic_id)] = subscription
    requests: dict[bool, list[tuple[str, LinkRequest]]] = {True: [], False: []}
    for email, signup in wanted:
        subscriber = subscribers[email]
        asking: Requesting = []
        for topic in signup.topics:
            subscription = existing.get((subscriber.id, topic.id))  # type: ignore[arg-type]
            # A suppressed person is asked again even for what looks active: nothing
            # reaches them until they confirm.
            again = email in suppressed or subscription is None
            if again or subscription.status != SubscriptionStatus.active:  # type: ignore[union-attr]
                asking.append((ConsentScope.topic, topic, signup.source, signup.member))
            if signup.share_with_members and (
                again or subscription.sharing != SubscriptionStatus.active  # type: ignore[union-attr]
            ):
                asking.append((ConsentScope.sharing, topic, signup.source, signup.member))
        if not asking:
            if signup.source != ConsentSource.import_:  # an import never mails active people
                queue_already_subscribed(session, subscriber, signup.language)
            outcomes[email] = Outcome(mailed="already")
            continue
        repermission = signup.source == ConsentSource.import_
        requests[repermission].append(
            (
                email,
                LinkRequest(subscriber, asking, language=signup.language, shown=signup.shown),
            )
        )
    for repermission, batch in requests.items():
        if batch:
            sent = send_links(session, [r for _, r in batch], repermission=repermission)
            outcomes.update(zip([email for email, _ in batch], sent, strict=True))
    return [outcomes[email] for email in emails]
