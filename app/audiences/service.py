"""An issue's audience and the reason each person is in it.

The send pipeline asks only this module: the people an issue may go to now (active
subscribers of the newsletter's topics, plus, for a member mailing, the member's
shared audiences under live agreements, minus suppressions), and for a batch of them
the true reason each one receives it, which their footer and unsubscribe link state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists
from sqlmodel import Session, col, select

from app import i18n
from app.i18n import gettext as _
from app.members.models import Member
from app.newsletters.models import Issue, Newsletter
from app.newsletters.service import topic_ids
from app.sharing import audience as sharing
from app.subscribers.models import (
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Topic,
)
from app.subscribers.service import active_subscriber_ids_query


@dataclass(frozen=True)
class Reason:
    """Why one person is in an issue's audience: their own topics of the newsletter,
    and the topics whose sharing consent brings them to a member's mailing."""

    own_topic_ids: tuple[int, ...] = ()
    own_topics: tuple[str, ...] = ()
    shared_topics: tuple[str, ...] = ()
    # The reader's language, for a member mailing's reason (the sharing they allowed
    # is theirs to read about); None: the newsletter's, like the rest of its footer.
    language: str | None = None

    @property
    def shared_only(self) -> bool:
        return not self.own_topic_ids and bool(self.shared_topics)


@dataclass
class IssueAudience:
    """The audience of one issue, resolved once per job."""

    issue_id: int
    newsletter: Newsletter
    topic_ids: list[int]
    member: Member | None = None  # the sender of a member mailing

    def query(self, session: Session, *, after: int | None = None) -> Select:
        """SELECT subscriber.id of everyone the issue may go to now, by id above `after`."""
        own = active_subscriber_ids_query(self.topic_ids)
        if after is not None:
            own = own.where(
                col(Subscriber.id) > after,
                # The same bound on the joined side, or PostgreSQL's merge join reads every
                # subscription from the first on each page (quadratic at a million).
                col(Subscription.subscriber_id) > after,
            )
        audience = sharing.mailing_audience_query(session, issue_id=self.issue_id, own=own)
        if audience is not own and after is not None:
            audience = audience.where(col(Subscriber.id) > after)
        return audience

    def reasons(self, session: Session, subscriber_ids: list[int]) -> dict[int, Reason]:
        """Of `subscriber_ids`, those still in the audience, each with their reason."""
        if not subscriber_ids:
            return {}
        # Plain lists of ids, never a subquery over subscription: PostgreSQL would
        # correlate it with the outer subscription and read every row per person.
        suppressed = set(
            session.exec(
                select(Subscriber.id).where(
                    col(Subscriber.id).in_(subscriber_ids),
                    exists().where(col(Suppression.address_hmac) == col(Subscriber.address_hmac)),
                )
            ).all()
        )
        subscriber_ids = [s for s in subscriber_ids if s not in suppressed]
        own: dict[int, list[tuple[int, str]]] = {}
        rows = session.exec(
            select(Subscription.subscriber_id, Topic.id, Topic.name)
            .join(Topic, col(Topic.id) == col(Subscription.topic_id))
            .where(
                col(Subscription.subscriber_id).in_(subscriber_ids),
                col(Subscription.topic_id).in_(self.topic_ids),
                col(Subscription.status) == SubscriptionStatus.active,
            )
            .order_by(Topic.name)
        ).all()
        for subscriber_id, topic_id, name in rows:
            own.setdefault(subscriber_id, []).append((topic_id, name))
        shared = (
            sharing.shared_reach(session, self.member.id or 0, subscriber_ids)
            if self.member is not None
            else {}
        )
        languages = (
            dict(
                session.exec(
                    select(Subscriber.id, Subscriber.language).where(
                        col(Subscriber.id).in_(list(shared))
                    )
                ).all()
            )
            if shared
            else {}
        )
        found: dict[int, Reason] = {}
        for subscriber_id in subscriber_ids:
            mine = own.get(subscriber_id, [])
            theirs = shared.get(subscriber_id, [])
            if mine or theirs:
                found[subscriber_id] = Reason(
                    own_topic_ids=tuple(t for t, _ in mine),
                    own_topics=tuple(n for _, n in mine),
                    shared_topics=tuple(theirs),
                    language=(languages.get(subscriber_id) or i18n.default_language())
                    if theirs
                    else None,
                )
        return found

    def sentence(self, reason: Reason, club: str = "Co-op Data Club") -> str:
        """The footer's "why you receive this", true for this one person: in the
        reader's language when sharing brings them (a member mailing), else in the
        newsletter's."""
        with i18n.using(reason.language or self.newsletter.language):
            return self._sentence(reason, club)

    def _sentence(self, reason: Reason, club: str) -> str:
        parts = []
        if reason.own_topics:
            parts.append(
                _(
                    "You receive %(newsletter)s because you subscribed to %(topics)s at the"
                    " %(club)s.",
                    newsletter=self.newsletter.name,
                    topics=_names(reason.own_topics),
                    club=club,
                )
            )
        if reason.shared_topics:
            topics = _names(reason.shared_topics)
            if parts:
                parts.append(
                    _(
                        "You also allowed the %(club)s to send you offers from member co-ops"
                        " on %(topics)s.",
                        club=club,
                        topics=topics,
                    )
                )
            elif self.member is not None:
                parts.append(
                    _(
                        "You receive this mailing from %(member)s because you allowed the"
                        " %(club)s to send you offers from member co-ops on %(topics)s.",
                        member=self.member.name,
                        club=club,
                        topics=topics,
                    )
                )
            else:
                parts.append(
                    _(
                        "You receive this mailing from a member co-op because you allowed the"
                        " %(club)s to send you offers from member co-ops on %(topics)s.",
                        club=club,
                        topics=topics,
                    )
                )
        return " ".join(parts)


def _names(names: tuple[str, ...]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return _("%(names)s and %(last)s", names=", ".join(names[:-1]), last=names[-1])


def for_issue(session: Session, issue: Issue) -> IssueAudience:
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    member_id = sharing.mailing_member_id(session, issue.id or 0)
    return IssueAudience(
        issue_id=issue.id or 0,
        newsletter=newsletter,
        topic_ids=topic_ids(session, issue.newsletter_id),
        member=session.get(Member, member_id) if member_id else None,
    )


def stop_sharing_url(subscriber: Subscriber, member: Member) -> str:
    """The link that stops this member's offers (the page offers "all members" too)."""
    return sharing.stop_sharing_url(subscriber, member.id or 0)
