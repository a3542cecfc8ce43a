"""Sharing agreements between members: offer, accept, revoke, their state and history.

Who an agreement reaches is in `app.sharing.audience`; a subscriber's withdrawal from
one member is in `app.sharing.withdrawal`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.db import utcnow
from app.i18n import format_number, lazy_gettext
from app.i18n import gettext as _
from app.members.models import Member, MemberStatus
from app.sharing.models import (
    AgreementStatus,
    PurposeCategory,
    SharingAgreement,
    SharingAgreementEvent,
)
from app.subscribers.models import Topic


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

# What a person reads for an agreement's state, its purpose and its history, in the
# language of the page (the stored values stay the codes).
STATE_NAMES = {
    "offered": lazy_gettext("offered, waiting for an answer"),
    "active": lazy_gettext("active"),
    "revoked": lazy_gettext("revoked, no longer shared"),
    "expired": lazy_gettext("ended on its last day"),
}
CATEGORY_NAMES = {
    PurposeCategory.offers: lazy_gettext("offers"),
    PurposeCategory.events: lazy_gettext("events"),
    PurposeCategory.campaigns: lazy_gettext("campaigns"),
    PurposeCategory.news: lazy_gettext("news"),
}


def history_line(action: str, member: str, when: str) -> str:
    """One event of an agreement's history: "Offered by X on <date>"."""
    if action == "offered":
        return _("Offered by %(member)s on %(when)s", member=member, when=when)
    if action == "accepted":
        return _("Accepted by %(member)s on %(when)s", member=member, when=when)
    if action == "revoked":
        return _("Revoked by %(member)s on %(when)s", member=member, when=when)
    return f"{action}: {member}, {when}"


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
        problems["receiver"] = _("Choose the member co-op to share with from the list.")
    topic_id, status = None, 422
    if topic_slug:
        topic = session.exec(select(Topic).where(Topic.slug == topic_slug)).first()
        if topic is None:
            problems["topic"] = _("Choose one of your co-op's topics, or the people it recruited.")
        elif topic.member_id != member.id:
            problems["topic"] = _("You can only share a topic your co-op owns.")
            status = 403
        else:
            topic_id = topic.id
    try:
        category = PurposeCategory(purpose_category)
    except ValueError:
        problems["purpose_category"] = _("Choose what the audience will be used for.")
    purpose = purpose.strip()
    if not purpose:
        problems["purpose"] = _("Say in one sentence what the audience will be used for.")
    elif len(purpose) > PURPOSE_LIMIT:
        problems["purpose"] = _(
            "Keep the purpose to %(limit)s characters; this one has %(count)s.",
            limit=PURPOSE_LIMIT,
            count=format_number(len(purpose)),
        )
    if ends_at is None:
        problems["ends_on"] = _("Give the last day as a date, e.g. 2027-12-31.")
    elif _aware(ends_at) <= utcnow():
        problems["ends_on"] = _("The last day must be in the future.")
    if receiver is not None and "receiver" not in problems and "topic" not in problems:
        # Offers by one member are decided one at a time (its row locked), so two
        # simultaneous submissions cannot both pass the duplicate check.
        session.exec(select(Member).where(Member.id == member.id).with_for_update()).one()
        if _live_offer(session, member, receiver, topic_id) is not None:
            problems["receiver"] = _(
                "You already share this audience with %(member)s (offered or active):"
                " revoke that agreement first to offer it again.",
                member=receiver.name,
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
        raise SharingError(_("only the receiving co-op can accept this offer"), status=403)
    current = state(agreement)
    if current != "offered":
        raise SharingError(
            _(
                "this offer is %(state)s and can no longer be accepted",
                state=STATE_NAMES.get(current, current),
            ),
            status=409,
        )
    agreement.status, agreement.accepted_at = AgreementStatus.active, utcnow()
    _log(session, agreement, "accepted", member_id, account_id)
    session.flush()


def revoke(
    session: Session, *, agreement: SharingAgreement, member_id: int, account_id: int | None = None
) -> None:
    current = state(agreement)
    if current in ("revoked", "expired"):
        raise SharingError(
            _("this agreement is already %(state)s", state=STATE_NAMES.get(current, current)),
            status=409,
        )
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
