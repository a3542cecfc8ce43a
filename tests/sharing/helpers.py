"""Plain functions for the sharing tests: members with topics, people with or without
sharing consent (made through the real signup services), agreements and mailings."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.consent.models import ConsentSource
from app.db import session_scope, utcnow
from app.members.models import Member
from app.sharing import mailings, service
from app.sharing.models import MemberMailing
from app.subscribers.confirmation import confirm
from app.subscribers.models import Subscriber, Topic
from app.subscribers.signup import Signup, request_subscription


def owned_topic(slug: str, member: Member) -> Topic:
    with session_scope() as session:
        topic = Topic(slug=slug, name=slug.replace("-", " ").title(), member_id=member.id)
        session.add(topic)
    return topic


def person(
    email: str,
    topics: list[Topic],
    *,
    sharing: bool,
    source: ConsentSource = ConsentSource.form,
    member: Member | None = None,
) -> Subscriber:
    with session_scope() as session:
        token = request_subscription(
            session,
            signup=Signup(
                email=email,
                topics=[session.get(Topic, t.id) for t in topics],
                source=source,
                share_with_members=sharing,
                member=session.get(Member, member.id) if member else None,
            ),
        ).token
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).one()
        # Ticking sharing on the confirmation page is what confirms it.
        confirm(session, token=token, sharing_topic_ids=[t.id for t in topics] if sharing else ())
    return subscriber


def agreement(offering: Member, receiving: Member, topic: Topic | None, *, accept: bool = True):
    with session_scope() as session:
        made = service.offer(
            session,
            member=session.get(Member, offering.id),
            receiving_slug=receiving.slug,
            topic_slug=topic.slug if topic else None,
            purpose_category="offers",
            purpose="Offers from a sister co-op.",
            ends_at=utcnow() + timedelta(days=90),
        )
        if accept:
            service.accept(session, agreement=made, member_id=receiving.id)
    return made


def submitted_mailing(member: Member, subject: str = "News from us") -> MemberMailing:
    with session_scope() as session:
        mailing = mailings.create(session, member=session.get(Member, member.id), subject=subject)
        first = mailings.blocks(session, mailing)[0]
        mailings.update(
            session, mailing=mailing, subject=subject, bodies={first.id: "Hello from our co-op."}
        )
        mailings.submit(session, mailing=mailing)
    return mailing


def approve(mailing: MemberMailing) -> None:
    with session_scope() as session:
        mailings.approve(session, mailing=session.get(MemberMailing, mailing.id))
