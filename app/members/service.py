"""Members and their accounts: applications, approval, the directory, staff management.

Plain functions taking a session; they flush but never commit. A problem the person
can fix raises `MemberFormError` naming the field, so forms re-show with it marked.
"""

from __future__ import annotations

from collections.abc import Sequence

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.mailing.service import queue_transactional
from app.members.models import (
    Account,
    Member,
    MemberApplication,
    MemberProfile,
    MemberStatus,
    Role,
)


class MemberFormError(ValueError):
    """Input a person can correct; `field` is the form field to mark."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotAllowed(PermissionError):
    """The account may see this but not do it (e.g. staff trying an owner action)."""


def normalise_email(address: str, *, field: str = "email") -> str:
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise MemberFormError(field, f"Enter a valid email address ({exc}).") from None


def account_by_email(session: Session, *, email: str) -> Account | None:
    return session.exec(select(Account).where(Account.email == email.lower())).first()


# Applications and status ---------------------------------------------------------------


def application_problems(session: Session, *, slug: str, owner_email: str) -> dict[str, str]:
    """What the database says is wrong with an application (taken web address, unusable
    or already registered email), by field, so the form can show it with the rest."""
    problems: dict[str, str] = {}
    email = None
    try:
        email = normalise_email(owner_email, field="owner_email")
    except MemberFormError as exc:
        problems[exc.field] = exc.message
    slug = slug.strip().lower()
    if slug and session.exec(select(Member.id).where(Member.slug == slug)).first():
        problems["slug"] = "Another co-op already uses this web address."
    if email is not None and account_by_email(session, email=email) is not None:
        problems["owner_email"] = (
            "This address already has an account. Log in with it, or use another address."
        )
    return problems


def apply(session: Session, *, application: MemberApplication) -> tuple[Member, Account]:
    """A co-op applies to join: the Member (status applied) and its owner's Account."""
    problems = application_problems(
        session, slug=application.slug, owner_email=application.owner_email
    )
    if problems:
        field, message = next(iter(problems.items()))
        raise MemberFormError(field, message)
    email = normalise_email(application.owner_email, field="owner_email")
    member = Member(
        slug=application.slug,
        status=MemberStatus.applied,
        **application.model_dump(include=set(MemberProfile.model_fields)),
    )
    session.add(member)
    session.flush()
    owner = Account(
        email=email,
        display_name=application.owner_name.strip(),
        role=Role.owner,
        member_id=member.id,
    )
    session.add(owner)
    session.flush()
    return member, owner


def set_status(session: Session, *, member: Member, status: MemberStatus) -> Member:
    """Approve (applied -> active), suspend, or reactivate; owners hear about it by email."""
    allowed = {
        MemberStatus.active: (MemberStatus.applied, MemberStatus.suspended),
        MemberStatus.suspended: (MemberStatus.applied, MemberStatus.active),
    }
    if member.status == status:
        return member
    if member.status not in allowed.get(status, ()):
        raise NotAllowed(f"A co-op that is {member.status} cannot become {status}.")
    previous, member.status = member.status, status
    session.add(member)
    for owner in owners(session, member_id=member.id):  # type: ignore[arg-type]
        queue_transactional(
            session,
            kind="member-status",
            to=owner.email,
            subject=_status_subject(previous, status, member),
            template="member_status",
            member_name=member.name,
            status=status.value,
            approved=previous == MemberStatus.applied and status == MemberStatus.active,
        )
    session.flush()
    return member


def _status_subject(previous: MemberStatus, status: MemberStatus, member: Member) -> str:
    if previous == MemberStatus.applied and status == MemberStatus.active:
        return f"Welcome to the Club: {member.name} is approved"
    if status == MemberStatus.suspended:
        return f"{member.name}'s membership is suspended"
    return f"{member.name}'s membership is active again"


def update_profile(session: Session, *, member: Member, profile: MemberProfile) -> Member:
    for name, value in profile.model_dump().items():
        setattr(member, name, value)
    session.add(member)
    session.flush()
    return member


def list_members(session: Session, *, status: MemberStatus | None = None) -> Sequence[Member]:
    query = select(Member).order_by(func.lower(Member.name))
    if status is not None:
        query = query.where(Member.status == status)
    return session.exec(query).all()


def count_by_status(session: Session) -> dict[MemberStatus, int]:
    rows = session.exec(select(Member.status, func.count()).group_by(Member.status)).all()
    counts = dict.fromkeys(MemberStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts


# The public directory --------------------------------------------------------------------


def directory(
    session: Session, *, q: str | None = None, kind: str | None = None, region: str | None = None
) -> Sequence[Member]:
    """Active members, searchable by name, kind and region. A member is found by kind or
    region only if it publishes that field, so a search cannot reveal a hidden value."""
    query = select(Member).where(Member.status == MemberStatus.active)
    if q and q.strip():
        query = query.where(func.lower(Member.name).contains(q.strip().lower()))
    if kind and kind.strip():
        query = query.where(col(Member.show_kind), func.lower(Member.kind) == kind.strip().lower())
    if region and region.strip():
        query = query.where(
            col(Member.show_region), func.lower(Member.region) == region.strip().lower()
        )
    return session.exec(query.order_by(func.lower(Member.name))).all()


def directory_facets(session: Session) -> dict[str, list[str]]:
    """The published kinds and regions, for the directory's filters."""
    active = Member.status == MemberStatus.active
    kinds = session.exec(
        select(Member.kind).where(active, col(Member.show_kind), col(Member.kind).is_not(None))
    ).all()
    regions = session.exec(
        select(Member.region).where(
            active, col(Member.show_region), col(Member.region).is_not(None)
        )
    ).all()
    return {
        "kinds": sorted(set(kinds), key=str.lower),
        "regions": sorted(set(regions), key=str.lower),
    }


def public_member(session: Session, *, slug: str) -> Member | None:
    return session.exec(
        select(Member).where(Member.slug == slug, Member.status == MemberStatus.active)
    ).first()


# Staff -----------------------------------------------------------------------------------


def staff(session: Session, *, member_id: int) -> Sequence[Account]:
    return session.exec(
        select(Account)
        .where(Account.member_id == member_id, col(Account.active))
        .order_by(Account.role, func.lower(Account.email))
    ).all()


def owners(session: Session, *, member_id: int) -> Sequence[Account]:
    return [a for a in staff(session, member_id=member_id) if a.role == Role.owner]


def staff_account(session: Session, *, member_id: int, account_id: int) -> Account | None:
    """One of this member's accounts; None for anyone else's (callers answer 404)."""
    account = session.get(Account, account_id)
    if account is None or account.member_id != member_id or not account.active:
        return None
    return account


def invite(
    session: Session,
    *,
    member: Member,
    invited_by: Account,
    email: str,
    display_name: str = "",
    role: Role = Role.staff,
) -> Account:
    """Add a person to the member's staff and email them how to log in."""
    if role not in (Role.owner, Role.staff):
        raise MemberFormError("role", "Choose owner or staff.")
    address = normalise_email(email)
    account = account_by_email(session, email=address)
    if account is not None and account.active:
        if account.member_id == member.id:
            raise MemberFormError("email", "This person is already on your staff.")
        raise MemberFormError(
            "email", "This address already has an account with another organisation."
        )
    if account is None:
        account = Account(email=address, role=role)
    # A removed account keeps its row (other records point at it); inviting it revives it.
    account.member_id, account.role, account.active = member.id, role, True
    account.display_name = display_name.strip() or account.display_name
    session.add(account)
    session.flush()
    queue_transactional(
        session,
        kind="staff-invitation",
        to=account.email,
        subject=f"{invited_by.label} added you to {member.name} on Co-op Data Club",
        template="staff_invitation",
        member_name=member.name,
        inviter=invited_by.label,
        role=role.value,
        email=account.email,
    )
    return account


def _keep_an_owner(session: Session, *, member_id: int, leaving: Account) -> None:
    others = [a for a in owners(session, member_id=member_id) if a.id != leaving.id]
    if leaving.role == Role.owner and not others:
        raise NotAllowed("A co-op needs at least one owner. Make someone else an owner first.")


def change_role(session: Session, *, member_id: int, account: Account, role: Role) -> Account:
    if role not in (Role.owner, Role.staff):
        raise MemberFormError("role", "Choose owner or staff.")
    if role == Role.staff:
        _keep_an_owner(session, member_id=member_id, leaving=account)
    account.role = role
    session.add(account)
    session.flush()
    return account


def remove(session: Session, *, member_id: int, account: Account) -> None:
    """Take a person off the member's staff. An inactive account's sessions are refused
    at once; the caller also ends them (auth.service.end_all_sessions)."""
    _keep_an_owner(session, member_id=member_id, leaving=account)
    account.active, account.member_id = False, None
    session.add(account)
    session.flush()


def list_accounts(session: Session) -> Sequence[tuple[Account, Member | None]]:
    rows = session.exec(
        select(Account, Member)
        .join(Member, col(Member.id) == Account.member_id, isouter=True)
        .order_by(Account.role, func.lower(Account.email))
    ).all()
    return [(account, member) for account, member in rows]


def alert_admins(session: Session, *, subject: str, message: str) -> None:
    """Email every active Club admin (a paused send, a payment that does not add up)."""
    admins = session.exec(
        select(Account.email).where(Account.role == Role.admin, col(Account.active))
    ).all()
    for email in admins:
        queue_transactional(
            session,
            kind="admin-alert",
            to=email,
            subject=subject,
            template="admin_alert",
            message=message,
        )
