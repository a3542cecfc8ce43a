"""Topics as admins manage them: open, rename, describe, hide, archive, give to a member.

A topic's slug is its public address (signup links, embedded forms, the API), so it
can change only while nobody has ever subscribed to it and no newsletter uses it.
Hiding a topic keeps its subscribers and its newsletters going, but takes it off every
public page and closes it to signups; archiving also takes it out of admins' pickers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import case, exists, func
from sqlmodel import Session, col, select

from app.consent.models import ConsentEvent
from app.i18n import format_number
from app.i18n import gettext as _
from app.members.models import Member
from app.newsletters.models import NewsletterTopic
from app.one_line_text import has_control_characters, has_hidden_characters
from app.subscribers.models import Subscription, SubscriptionStatus, Topic, TopicStatus

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class TopicError(ValueError):
    """A topic form problem, named by field, in words a person understands."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class TopicForm:
    slug: str
    name: str
    description: str = ""
    public: bool = True
    owner_slug: str = ""  # a member's slug, or "" for a Club-wide topic


@dataclass(frozen=True)
class TopicRow:
    topic: Topic
    owner: Member | None
    active: int
    pending: int


def _check(session: Session, form: TopicForm, topic: Topic | None) -> tuple[str, Member | None]:
    errors: dict[str, str] = {}
    slug = form.slug.strip().lower()
    if topic is None or slug != topic.slug:
        if not SLUG.match(slug) or len(slug) > 80:
            errors["slug"] = _(
                "Web address: use lowercase letters, digits and single hyphens "
                "(at most 80 characters), e.g. food-coops."
            )
        elif session.exec(select(Topic.id).where(Topic.slug == slug)).first() is not None:
            errors["slug"] = _("Web address: another topic already uses it.")
        elif topic is not None and slug_in_use(session, topic):
            errors["slug"] = _(
                "Web address: people have subscribed through it or a newsletter uses it, "
                "so it can no longer change."
            )
    name = form.name.strip()
    if not name:
        errors["name"] = _("Name: give the topic a name people will recognise.")
    elif len(name) > 120:
        errors["name"] = _(
            "Name: at most 120 characters (this one has %(count)s).", count=format_number(len(name))
        )
    elif has_control_characters(name):
        errors["name"] = _(
            "Name: must be one line of text, without control characters such as line breaks "
            "or tabs, or invisible ones such as direction overrides."
        )
    length = len(form.description.strip())
    if length > 1000:
        errors["description"] = _(
            "Description: at most 1,000 characters (this one has %(count)s).",
            count=format_number(length),
        )
    elif has_hidden_characters(form.description):
        errors["description"] = _(
            "Description: must be plain text, without control characters or invisible ones "
            "such as direction overrides."
        )
    owner = None
    if form.owner_slug.strip():
        owner = session.exec(select(Member).where(Member.slug == form.owner_slug.strip())).first()
        if owner is None:
            errors["owner"] = _("Owner: there is no member co-op with that web address.")
    if errors:
        raise TopicError(errors)
    return slug, owner


def slug_in_use(session: Session, topic: Topic) -> bool:
    """Someone subscribed through the slug, or a newsletter names the topic."""
    return bool(
        session.exec(
            select(
                exists().where(col(ConsentEvent.topic_id) == topic.id)
                | exists().where(col(Subscription.topic_id) == topic.id)
                | exists().where(col(NewsletterTopic.topic_id) == topic.id)
            )
        ).one()
    )


def create_topic(session: Session, form: TopicForm) -> Topic:
    slug, owner = _check(session, form, None)
    topic = Topic(
        slug=slug,
        name=form.name.strip(),
        description=form.description.strip(),
        public=form.public,
        member_id=owner.id if owner else None,
    )
    session.add(topic)
    session.flush()
    return topic


def update_topic(session: Session, topic: Topic, form: TopicForm) -> Topic:
    slug, owner = _check(session, form, topic)
    topic.slug = slug
    topic.name = form.name.strip()
    topic.description = form.description.strip()
    topic.public = form.public
    topic.member_id = owner.id if owner else None
    session.add(topic)
    session.flush()
    return topic


def set_status(session: Session, topic: Topic, status: TopicStatus) -> Topic:
    topic.status = status
    session.add(topic)
    session.flush()
    return topic


def topic_by_slug(session: Session, slug: str) -> Topic | None:
    return session.exec(select(Topic).where(Topic.slug == slug)).first()


def topic_rows(session: Session) -> list[TopicRow]:
    """Every topic with its owner and its active and pending counts (one query)."""
    rows = session.exec(
        select(
            Topic,
            Member,
            func.count(case((col(Subscription.status) == SubscriptionStatus.active, 1))),
            func.count(case((col(Subscription.status) == SubscriptionStatus.pending, 1))),
        )
        .join(Member, col(Member.id) == col(Topic.member_id), isouter=True)
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id), isouter=True)
        .group_by(col(Topic.id), col(Member.id))
        .order_by(col(Topic.status), col(Topic.name))
    ).all()
    return [TopicRow(topic, owner, int(a), int(p)) for topic, owner, a, p in rows]


def pickable_topics(session: Session) -> list[Topic]:
    """Topics an admin may pick for an import or a newsletter: all but archived ones."""
    return list(
        session.exec(
            select(Topic).where(col(Topic.status) != TopicStatus.archived).order_by(Topic.name)
        ).all()
    )
