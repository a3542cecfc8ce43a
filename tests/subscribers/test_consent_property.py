"""Issue 14's property: over any sequence of signup / confirm (any link that was mailed)
/ withdraw / erase / signing up again, (1) no consent is active without a confirmation
of exactly that consent after its latest request, and (2) nobody receives a bulk email
(a newsletter issue and a member mailing through a sharing agreement, sent at the end
through the real pipeline and read at the SMTP sink) without an active consent for its
topics, or for the member mailing an active sharing consent under the live agreement.
The ledger is the witness: (2) replays it rather than reading the subscription rows."""

from __future__ import annotations

import contextlib
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from app.consent.models import ConsentAction, ConsentEvent, ConsentScope
from app.db import session_scope
from app.sharing.service import SharingError
from app.subscribers import preferences
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Topic
from tests.conftest import empty_tables, reset_transient_state
from tests.members.factories import make_member
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.sharing.helpers import agreement, approve, owned_topic, submitted_mailing
from tests.subscribers.helpers import assert_ledger_verifies, hidden, sharing_choices

PEOPLE = ("ana@example.org", "ben@example.org")
TOPICS = ("food", "orchard-news")
ISSUE_SUBJECT = "Spring at the co-ops"
MAILING_SUBJECT = "News from the bakery"

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("signup"),
            st.sampled_from(PEOPLE),
            st.sets(st.sampled_from(TOPICS), min_size=1),
            st.booleans(),
            st.sampled_from(["later", "now", "now, with offers"]),
        ),
        st.tuples(st.just("confirm"), st.sampled_from(PEOPLE), st.integers(0, 7), st.booleans()),
        st.tuples(st.just("withdraw"), st.sampled_from(PEOPLE)),
        st.tuples(st.just("erase"), st.sampled_from(PEOPLE)),
    ),
    min_size=1,
    max_size=8,
)


class World:
    def __init__(self, client, smtp, run_jobs) -> None:
        self.client, self.smtp, self.run_jobs = client, smtp, run_jobs
        self.links: dict[str, list[str]] = {p: [] for p in PEOPLE}
        self.seen: dict[str, int] = {p: 0 for p in PEOPLE}

    def collect_links(self, email: str) -> None:
        received = self.smtp.to(email)
        for mail in received[self.seen[email] :]:
            self.links[email] += re.findall(
                r"http://testserver(/confirm/[A-Za-z0-9_.\-]+)", mail.text()
            )
        self.seen[email] = len(received)

    def signup(self, email: str, topics: set[str], share: bool, confirm: str) -> None:
        self.client.post(
            "/api/v1/subscribe",
            json={"email": email, "topics": sorted(topics), "share_with_members": share},
        )
        self.run_jobs()
        self.collect_links(email)
        if confirm != "later":  # the person opens the newest email at once
            self.confirm(email, -1, confirm == "now, with offers")

    def confirm(self, email: str, which: int, share: bool) -> None:
        if not self.links[email]:
            return
        url = self.links[email][which % len(self.links[email])]
        page = self.client.get(url)
        if page.status_code != 200 or 'name="csrf_token"' not in page.text:
            return  # an erased person's link, or a used one showing what is active
        data = {"csrf_token": hidden(page.text, "csrf_token")}
        if share:
            data["sharing"] = sharing_choices(page.text)
        self.client.post(url, data=data)
        self.run_jobs()

    def withdraw(self, email: str) -> None:
        with session_scope() as session:
            subscriber = _subscriber(session, email)
            if subscriber is not None:
                preferences.unsubscribe(session, subscriber=subscriber, topic_ids=None, token=None)

    def erase(self, email: str) -> None:
        with session_scope() as session:
            subscriber = _subscriber(session, email)
            if subscriber is not None:
                preferences.erase(session, subscriber=subscriber)
        self.run_jobs()


def _subscriber(session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def _replayed(events: list[ConsentEvent]) -> dict[tuple[ConsentScope, int], ConsentAction]:
    """(scope, topic) -> the last requested/confirmed/withdrawn action in the ledger."""
    state: dict[tuple[ConsentScope, int], ConsentAction] = {}
    for event in events:
        if event.action == ConsentAction.erased:
            state.clear()
        elif event.topic_id is not None and event.action in (
            ConsentAction.requested,
            ConsentAction.confirmed,
            ConsentAction.withdrawn,
        ):
            state[(event.scope, event.topic_id)] = event.action
    return state


def _check_active_consents_were_confirmed() -> None:
    with session_scope() as session:
        rows = session.exec(
            select(Subscriber, Subscription).join(
                Subscription, col(Subscription.subscriber_id) == col(Subscriber.id)
            )
        ).all()
        for subscriber, subscription in rows:
            events = session.exec(
                select(ConsentEvent)
                .where(ConsentEvent.subscriber_key == subscriber.key)
                .order_by(col(ConsentEvent.id))
            ).all()
            for scope, status in (
                (ConsentScope.topic, subscription.status),
                (ConsentScope.sharing, subscription.sharing),
            ):
                if status != SubscriptionStatus.active:
                    continue
                mine = [
                    e for e in events if e.scope == scope and e.topic_id == subscription.topic_id
                ]
                requests = [e for e in mine if e.action == ConsentAction.requested]
                assert requests, (subscriber.email, scope, "active without a request")
                latest = requests[-1].id
                confirmations = [
                    e for e in mine if e.action == ConsentAction.confirmed and e.id > latest
                ]
                assert confirmations, (subscriber.email, scope, "active, not confirmed since")
                # Confirmed through a link that asked for exactly this consent.
                asked = {e.token_digest for e in requests}
                assert confirmations[-1].token_digest in asked, (subscriber.email, scope)


def _check_bulk_mail(smtp, food: Topic, orchard_news: Topic) -> None:
    with session_scope() as session:
        replayed = {}
        for email in PEOPLE:
            subscriber = _subscriber(session, email)
            if subscriber is not None:
                events = session.exec(
                    select(ConsentEvent)
                    .where(ConsentEvent.subscriber_key == subscriber.key)
                    .order_by(col(ConsentEvent.id))
                ).all()
                replayed[email] = _replayed(list(events))
    confirmed = ConsentAction.confirmed
    for email in PEOPLE:
        subjects = [m.message["Subject"] for m in smtp.to(email)]
        state = replayed.get(email, {})
        if ISSUE_SUBJECT in subjects:
            assert state.get((ConsentScope.topic, food.id)) == confirmed, (email, state)
        if MAILING_SUBJECT in subjects:
            assert state.get((ConsentScope.topic, orchard_news.id)) == confirmed, (email, state)
            assert state.get((ConsentScope.sharing, orchard_news.id)) == confirmed, (email, state)
        # And the converse: whoever holds the consent at the end gets the issue.
        if state.get((ConsentScope.topic, food.id)) == confirmed:
            assert ISSUE_SUBJECT in subjects, (email, state)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_no_consent_without_its_confirmation_and_no_mail_without_consent(
    steps, client, smtp, run_jobs
):
    run_jobs()
    empty_tables()
    reset_transient_state()
    food = make_topic("food")
    orchard, bakery = make_member("orchard-coop"), make_member("bakery-coop")
    orchard_news = owned_topic("orchard-news", orchard)
    agreement(orchard, bakery, orchard_news)
    world = World(client, smtp, run_jobs)
    for step in steps:
        getattr(world, step[0])(*step[1:])
    _check_active_consents_were_confirmed()

    issue = make_issue(make_newsletter("commons", topics=[food]), subject=ISSUE_SUBJECT)
    people.start_now(schedule_soon(issue))
    # Refused when no one has consented to offers on the agreement's topic.
    with contextlib.suppress(SharingError):
        approve(submitted_mailing(bakery, subject=MAILING_SUBJECT))
    run_jobs()
    _check_bulk_mail(smtp, food, orchard_news)
    assert_ledger_verifies(run_jobs)
