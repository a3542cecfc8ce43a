"""The shared audience a receiving member may mail: who its active sharing agreements
reach (with the topics that bring each person there, for the footer), the counts either
side sees, and the audience of a member mailing.

Addresses never leave this module towards a receiving member: it returns queries of
subscriber ids for the send pipeline and counts for people.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, exists, func, or_, true
from sqlmodel import Session, col, select

from app.db import utcnow
from app.members.models import Member
from app.sharing.models import AgreementStatus, SharingAgreement, SharingWithdrawal
from app.sharing.service import active_agreements_to, state
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Suppression, Topic


def _agreement_audience(agreement: SharingAgreement):  # type: ignore[no-untyped-def]
    """The condition a subscriber row must meet to be in one agreement's audience:
    an active subscription with active sharing consent (on the agreement's topic, or on
    any topic for "people I recruited"), and no withdrawal for the receiving member."""
    subscription = and_(
        col(Subscription.subscriber_id) == col(Subscriber.id),
        col(Subscription.status) == SubscriptionStatus.active,
        col(Subscription.sharing) == SubscriptionStatus.active,
    )
    if agreement.topic_id is not None:
        has_consent = exists().where(subscription, col(Subscription.topic_id) == agreement.topic_id)
        recruited = true()
    else:
        has_consent = exists().where(subscription)
        recruited = col(Subscriber.source_member_id) == agreement.offering_member_id
    withdrawn = exists().where(
        col(SharingWithdrawal.subscriber_id) == col(Subscriber.id),
        col(SharingWithdrawal.member_id) == agreement.receiving_member_id,
    )
    return and_(has_consent, recruited, ~withdrawn)


def shared_subscriber_ids_query(session: Session, receiving_member_id: int) -> Select | None:
    """SELECT subscriber.id of the receiving member's shared audience under its active
    agreements, minus suppressions, ordered by id; None when it has no active agreement."""
    agreements = active_agreements_to(session, receiving_member_id)
    if not agreements:
        return None
    suppressed = exists().where(col(Suppression.address_hmac) == col(Subscriber.address_hmac))
    return (
        select(col(Subscriber.id))
        .where(or_(*[_agreement_audience(a) for a in agreements]), ~suppressed)
        .order_by(col(Subscriber.id))
    )


def shared_reach(
    session: Session, receiving_member_id: int, subscriber_ids: list[int]
) -> dict[int, list[str]]:
    """Which of `subscriber_ids` the receiving member's active agreements reach, each
    with the names of the topics whose sharing consent brings them there (the reason a
    footer gives). Suppressed people are left out, as in the audience itself."""
    reached: dict[int, set[str]] = {}
    if not subscriber_ids:
        return {}
    suppressed = exists().where(col(Suppression.address_hmac) == col(Subscriber.address_hmac))
    for agreement in active_agreements_to(session, receiving_member_id):
        ids = session.exec(
            select(col(Subscriber.id)).where(
                col(Subscriber.id).in_(subscriber_ids), _agreement_audience(agreement), ~suppressed
            )
        ).all()
        if not ids:
            continue
        # The topic the agreement names, or (for "people I recruited") every topic on
        # which the person allowed sharing.
        names = select(Subscription.subscriber_id, Topic.name).join(
            Topic, col(Topic.id) == col(Subscription.topic_id)
        )
        names = names.where(
            col(Subscription.subscriber_id).in_(ids),
            col(Subscription.status) == SubscriptionStatus.active,
            col(Subscription.sharing) == SubscriptionStatus.active,
        )
        if agreement.topic_id is not None:
            names = names.where(col(Subscription.topic_id) == agreement.topic_id)
        for subscriber_id, topic_name in session.exec(names).all():
            reached.setdefault(subscriber_id, set()).add(topic_name)
    return {s: sorted(names) for s, names in reached.items()}


def agreement_count(session: Session, agreement: SharingAgreement) -> int:
    """How many people the agreement reaches now (the only thing either side sees)."""
    suppressed = exists().where(col(Suppression.address_hmac) == col(Subscriber.address_hmac))
    return int(
        session.exec(
            select(func.count(col(Subscriber.id))).where(
                _agreement_audience(agreement), ~suppressed
            )
        ).one()
    )


def members_sharing_with(session: Session, subscriber: Subscriber) -> list[Member]:
    """The members this person's subscriptions are currently shared with, by name."""
    found: dict[int, Member] = {}
    agreements = session.exec(
        select(SharingAgreement).where(SharingAgreement.status == AgreementStatus.active)
    ).all()
    now = utcnow()
    for agreement in agreements:
        if state(agreement, now) != "active" or agreement.receiving_member_id in found:
            continue
        reached = session.exec(
            select(func.count(col(Subscriber.id))).where(
                col(Subscriber.id) == subscriber.id, _agreement_audience(agreement)
            )
        ).one()
        if reached:
            member = session.get(Member, agreement.receiving_member_id)
            if member is not None:
                found[member.id or 0] = member
    return sorted(found.values(), key=lambda m: m.name)


def mailing_audience_query(session: Session, *, issue_id: int, own: Select) -> Select:
    """The audience of an issue: `own` (active subscribers of its topics), plus, when
    the issue is a member mailing, that member's shared audience, one row per person."""
    from app.sharing.models import MemberMailing

    mailing = session.exec(select(MemberMailing).where(MemberMailing.issue_id == issue_id)).first()
    if mailing is None:
        return own
    shared = shared_subscriber_ids_query(session, mailing.member_id)
    if shared is None:
        return own
    return (
        select(col(Subscriber.id))
        .where(
            or_(
                col(Subscriber.id).in_(own.order_by(None)),
                col(Subscriber.id).in_(shared.order_by(None)),
            )
        )
        .order_by(col(Subscriber.id))
    )


def mailing_member_id(session: Session, issue_id: int) -> int | None:
    from app.sharing.models import MemberMailing

    return session.exec(
        select(MemberMailing.member_id).where(MemberMailing.issue_id == issue_id)
    ).first()


def stop_sharing_url(subscriber: Subscriber, member_id: int) -> str:
    """The unsubscribe link of a member mailing for someone reached through sharing: it
    withdraws sharing with that member (the page offers "from all members" too)."""
    from app.config import get_settings
    from app.subscribers.service import preferences_token

    return f"{get_settings().base_url}/sharing/stop/{member_id}/{preferences_token(subscriber)}"
