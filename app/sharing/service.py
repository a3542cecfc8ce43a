"""Sharing agreements (offer, accept, revoke, history), the shared audience a receiving
member may mail, its aggregate counts, and per-member withdrawal by the subscriber.

Addresses never leave this module towards a receiving member: it returns queries of
subscriber ids for the send pipeline and counts for people.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, exists, func, or_, true
from sqlmodel import Session, col, select

from app.consent.models import ConsentAction, ConsentScope, ConsentSource
from app.consent.service import current_text, record_consent, token_digest
from app.db import utcnow
from app.members.models import Member, MemberStatus
from app.sharing.models import (
    AgreementStatus,
    PurposeCategory,
    SharingAgreement,
    SharingAgreementEvent,
    SharingWithdrawal,
)
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Suppression, Topic


class SharingError(Exception):
    """Something the member asked for cannot be done; `status` is the HTTP answer."""

    def __init__(self, message: str, *, status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def state(agreement: SharingAgreement, now: datetime | None = None) -> str:
    """offered, active, revoked or expired (an end date in the past ends any agreement)."""
    if agreement.status == AgreementStatus.revoked:
        return "revoked"
    if _aware(agreement.ends_at) <= (now or utcnow()):
        return "expired"
    return agreement.status.value


def _log(
    session: Session, agreement: SharingAgreement, action: str, member_id: int, account_id
) -> None:  # type: ignore[no-untyped-def]
    session.add(
        SharingAgreementEvent(
            agreement_id=agreement.id or 0,
            action=action,
            member_id=member_id,
            account_id=account_id,
        )
    )


PURPOSE_LIMIT = 300  # characters; the column's size


class OfferProblems(SharingError):
    """Every problem with an offer at once, by form field (for the form to mark)."""

    def __init__(self, problems: dict[str, str], *, status: int = 422) -> None:
        super().__init__(" ".join(problems.values()), status=status)
        self.problems = problems


def offer_partners(session: Session, member: Member) -> list[Member]:
    """The co-ops a member may offer an audience to: every other active member."""
    return list(
        session.exec(
            select(Member)
            .where(Member.status == MemberStatus.active, col(Member.id) != member.id)
            .order_by(Member.name)
        ).all()
    )


def offer(
    session: Session,
    *,
    member: Member,
    receiving_slug: str,
    topic_slug: str | None,
    purpose_category: str,
    purpose: str,
    ends_at: datetime | None,
    account_id: int | None = None,
) -> SharingAgreement:
    """Member offers a topic it owns (or, with no topic, the people it recruited).
    Raises OfferProblems naming every field to fix (`ends_at` None: not a date)."""
    problems: dict[str, str] = {}
    receiver = session.exec(
        select(Member).where(Member.slug == receiving_slug, Member.status == MemberStatus.active)
    ).first()
    if receiver is None or receiver.id == member.id:
        problems["receiver"] = "Choose the member co-op to share with from the list."
    topic_id, status = None, 422
    if topic_slug:
        topic = session.exec(select(Topic).where(Topic.slug == topic_slug)).first()
        if topic is None:
            problems["topic"] = "Choose one of your co-op's topics, or the people it recruited."
        elif topic.member_id != member.id:
            problems["topic"] = "You can only share a topic your co-op owns."
            status = 403
        else:
            topic_id = topic.id
    try:
        category = PurposeCategory(purpose_category)
    except ValueError:
        problems["purpose_category"] = "Choose what the audience will be used for."
    purpose = purpose.strip()
    if not purpose:
        problems["purpose"] = "Say in one sentence what the audience will be used for."
    elif len(purpose) > PURPOSE_LIMIT:
        problems["purpose"] = (
            f"Keep the purpose to {PURPOSE_LIMIT} characters; this one has {len(purpose):,}."
        )
    if ends_at is None:
        problems["ends_on"] = "Give the last day as a date, e.g. 2027-12-31."
    elif _aware(ends_at) <= utcnow():
        problems["ends_on"] = "The last day must be in the future."
    if receiver is not None and "receiver" not in problems and "topic" not in problems:
        # Offers by one member are decided one at a time (its row locked), so two
        # simultaneous submissions cannot both pass the duplicate check.
        session.exec(select(Member).where(Member.id == member.id).with_for_update()).one()
        if _live_offer(session, member, receiver, topic_id) is not None:
            problems["receiver"] = (
                f"You already share this audience with {receiver.name} (offered or active): "
                "revoke that agreement first to offer it again."
            )
    if problems:
        raise OfferProblems(problems, status=status)
    assert receiver is not None and ends_at is not None
    agreement = SharingAgreement(
        offering_member_id=member.id or 0,
        receiving_member_id=receiver.id or 0,
        topic_id=topic_id,
        purpose_category=category,
        purpose=purpose,
        ends_at=_aware(ends_at),
    )
    session.add(agreement)
    session.flush()
    _log(session, agreement, "offered", member.id or 0, account_id)
    session.flush()
    return agreement


def _live_offer(
    session: Session, member: Member, receiver: Member, topic_id: int | None
) -> SharingAgreement | None:
    """An offered or active agreement for the same audience between the same two co-ops."""
    same = session.exec(
        select(SharingAgreement).where(
            SharingAgreement.offering_member_id == member.id,
            SharingAgreement.receiving_member_id == receiver.id,
            col(SharingAgreement.topic_id).is_(None)
            if topic_id is None
            else SharingAgreement.topic_id == topic_id,
            SharingAgreement.status != AgreementStatus.revoked,
        )
    ).all()
    return next((a for a in same if state(a) in ("offered", "active")), None)


def for_member(session: Session, *, member_id: int, agreement_id: int) -> SharingAgreement | None:
    """The agreement if `member_id` is one of its two sides (else None: a 404)."""
    agreement = session.get(SharingAgreement, agreement_id)
    if agreement is None or member_id not in (
        agreement.offering_member_id,
        agreement.receiving_member_id,
    ):
        return None
    return agreement


def accept(
    session: Session, *, agreement: SharingAgreement, member_id: int, account_id: int | None = None
) -> None:
    if agreement.receiving_member_id != member_id:
        raise SharingError("only the receiving co-op can accept this offer", status=403)
    current = state(agreement)
    if current != "offered":
        raise SharingError(f"this offer is {current} and can no longer be accepted", status=409)
    agreement.status, agreement.accepted_at = AgreementStatus.active, utcnow()
    _log(session, agreement, "accepted", member_id, account_id)
    session.flush()


def revoke(
    session: Session, *, agreement: SharingAgreement, member_id: int, account_id: int | None = None
) -> None:
    current = state(agreement)
    if current in ("revoked", "expired"):
        raise SharingError(f"this agreement is already {current}", status=409)
    agreement.status, agreement.revoked_at = AgreementStatus.revoked, utcnow()
    _log(session, agreement, "revoked", member_id, account_id)
    session.flush()


def history(session: Session, agreement_id: int) -> list[SharingAgreementEvent]:
    return list(
        session.exec(
            select(SharingAgreementEvent)
            .where(SharingAgreementEvent.agreement_id == agreement_id)
            .order_by(col(SharingAgreementEvent.id))
        ).all()
    )


def agreements_of(session: Session, member_id: int) -> list[SharingAgreement]:
    return list(
        session.exec(
            select(SharingAgreement)
            .where(
                or_(
                    SharingAgreement.offering_member_id == member_id,
                    SharingAgreement.receiving_member_id == member_id,
                )
            )
            .order_by(col(SharingAgreement.id).desc())
        ).all()
    )


def active_agreements_to(session: Session, receiving_member_id: int) -> list[SharingAgreement]:
    now = utcnow()
    return [
        a
        for a in session.exec(
            select(SharingAgreement).where(
                SharingAgreement.receiving_member_id == receiving_member_id,
                SharingAgreement.status == AgreementStatus.active,
            )
        ).all()
        if state(a, now) == "active"
    ]


# The shared audience ---------------------------------------------------------------


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


# The subscriber's side --------------------------------------------------------------


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


def withdraw_from_member(
    session: Session, *, subscriber: Subscriber, member: Member, token: str | None
) -> bool:
    """Stop sharing this person with one member (idempotent: False on a repeat)."""
    existing = session.exec(
        select(SharingWithdrawal).where(
            SharingWithdrawal.subscriber_id == subscriber.id,
            SharingWithdrawal.member_id == member.id,
        )
    ).first()
    if existing is not None:
        return False
    record_consent(
        session,
        subscriber=subscriber,
        scope=ConsentScope.sharing,
        action=ConsentAction.withdrawn,
        source=ConsentSource.form,
        consent_text=None,
        token_digest=token_digest(token) if token else None,
        member=member,
    )
    session.add(SharingWithdrawal(subscriber_id=subscriber.id or 0, member_id=member.id or 0))
    session.flush()
    return True


def share_again_with_member(
    session: Session, *, subscriber: Subscriber, member: Member, token: str
) -> bool:
    """Undo a withdrawal for one member (the person asked, from their own link)."""
    existing = session.exec(
        select(SharingWithdrawal).where(
            SharingWithdrawal.subscriber_id == subscriber.id,
            SharingWithdrawal.member_id == member.id,
        )
    ).first()
    if existing is None:
        return False
    record_consent(
        session,
        subscriber=subscriber,
        scope=ConsentScope.sharing,
        action=ConsentAction.confirmed,
        source=ConsentSource.form,
        consent_text=current_text(session, ConsentScope.sharing),
        token_digest=token_digest(token),
        member=member,
    )
    session.delete(existing)
    session.flush()
    return True


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
