"""Members and their accounts: applications, approval, the directory, staff management.

Plain functions taking a session; they flush but never commit. A problem the person
can fix raises `MemberFormError` naming the field, so forms re-show with it marked.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.support import LazyProxy
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.mailing.service import queue_transactional
from app.members import history
from app.members.models import Account, Member, MemberStatus, Role
from app.members.schemas import MemberApplication, MemberProfile


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
        raise MemberFormError(
            field, _("Enter a valid email address (%(reason)s).", reason=exc)
        ) from None


def account_by_email(session: Session, *, email: str) -> Account | None:
    return session.exec(select(Account).where(Account.email == email.lower())).first()


# Applications and status ---------------------------------------------------------------


def application_problems(session: Session, *, slug: str, owner_email: str) -> dict[str, str]:
    """What the form can say about an application beyond its field checks, by field: a
    web address another co-op uses (slugs are public), an email that is not an address.
    Never whether the address has an account: /apply answers the same either way, and
    the emailed link tells the address's owner (app/members/applications.py)."""
    problems: dict[str, str] = {}
    try:
        normalise_email(owner_email, field="owner_email")
    except MemberFormError as exc:
        problems[exc.field] = exc.message
    slug = slug.strip().lower()
    if slug and session.exec(select(Member.id).where(Member.slug == slug)).first():
        problems["slug"] = _("Another co-op already uses this web address.")
    return problems


def apply(session: Session, *, application: MemberApplication) -> tuple[Member, Account]:
    """A co-op's application, its owner address confirmed: the Member (status applied)
    and its owner's Account. An address with an active account (on a co-op's team, or a
    Club admin) is refused, never moved; a closed one (removed from a team, or a
    declined application) is reopened as the new co-op's owner."""
    problems = application_problems(
        session, slug=application.slug, owner_email=application.owner_email
    )
    email = normalise_email(application.owner_email, field="owner_email")
    existing = account_by_email(session, email=email)
    if existing is not None and existing.active:
        problems.setdefault(
            "owner_email",
            _(
                "This address already belongs to a person on a member co-op's team (or a Club "
                "admin). Log in with it to reach that co-op, or apply with another address."
            ),
        )
    if problems:
        field, message = next(iter(problems.items()))
        raise MemberFormError(field, message)
    profile = application.stored()
    member = Member(
        slug=application.slug,
        status=MemberStatus.applied,
        **{name: profile[name] for name in MemberProfile.model_fields},
    )
    session.add(member)
    session.flush()
    owner = existing or Account(email=email, role=Role.owner)
    owner.display_name = application.owner_name.strip()
    owner.role, owner.member_id, owner.active = Role.owner, member.id, True
    session.add(owner)
    session.flush()
    return member, owner


def set_status(session: Session, *, member: Member, status: MemberStatus) -> Member:
    """Approve (applied -> active), suspend a member, or reactivate it; owners hear about
    it by email. An application is declined with `decline`, not suspended."""
    allowed = {
        MemberStatus.active: (MemberStatus.applied, MemberStatus.suspended),
        MemberStatus.suspended: (MemberStatus.active,),
    }
    if member.status == status:
        return member
    if member.status not in allowed.get(status, ()):
        if member.status == MemberStatus.applied and status == MemberStatus.suspended:
            raise NotAllowed(_("An application is approved or declined, not suspended."))
        raise NotAllowed(
            _(
                "A co-op that is %(status)s cannot become %(new_status)s.",
                status=member.status,
                new_status=status,
            )
        )
    previous, member.status = member.status, status
    session.add(member)
    _tell_owners(
        session,
        member,
        subject=_STATUS_SUBJECTS[status]
        if previous != MemberStatus.applied
        else lazy_gettext("Welcome to Co-op Data Club: your co-op is approved"),
        status=status.value,
        approved=previous == MemberStatus.applied and status == MemberStatus.active,
    )
    session.flush()
    return member


# Subjects are the Club's words only: a member's name (typed by whoever applied) never
# goes into a subject line; the body names the co-op, escaped.
_STATUS_SUBJECTS = {
    MemberStatus.active: lazy_gettext("Your co-op's Co-op Data Club membership is active again"),
    MemberStatus.suspended: lazy_gettext("Your co-op's Co-op Data Club membership is suspended"),
    MemberStatus.declined: lazy_gettext("Your application to Co-op Data Club was declined"),
}


def decline(session: Session, *, member: Member, reason: str) -> Member:
    """Turn an application down with a reason the applicant reads. Its accounts are
    closed, so the address can apply again (or be invited) later."""
    reason = reason.strip()
    if not reason:
        raise MemberFormError(
            "reason", _("Say why the application is declined: the applicant reads it.")
        )
    if member.status != MemberStatus.applied:
        raise NotAllowed(
            _(
                "Only an application can be declined; this co-op is %(status)s.",
                status=member.status,
            )
        )
    people = list(staff(session, member_id=member.id or 0))
    member.status = MemberStatus.declined
    session.add(member)
    _tell_owners(
        session,
        member,
        subject=_STATUS_SUBJECTS[MemberStatus.declined],
        status=MemberStatus.declined.value,
        approved=False,
        reason=reason[:1000],
        to=[a.email for a in people if a.role == Role.owner],
    )
    for account in people:
        account.active, account.member_id = False, None
        session.add(account)
    session.flush()
    return member


def _tell_owners(
    session: Session,
    member: Member,
    *,
    subject: str | LazyProxy,
    to: list[str] | None = None,
    **values: object,
) -> None:
    recipients = (
        to if to is not None else [a.email for a in owners(session, member_id=member.id or 0)]
    )
    for email in recipients:
        queue_transactional(
            session,
            kind="member-status",
            to=email,
            subject=subject,
            template="member_status",
            member_name=member.name,
            **values,
        )


def update_profile(
    session: Session, *, member: Member, profile: MemberProfile, account: Account | None = None
) -> Member:
    """Save the profile; each changed value or switch goes in the change log."""
    if history.record(session, member=member, profile=profile, account=account):
        member.updated_at = utcnow()
    for name, value in profile.stored().items():
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


# The public directory (search and pages: app/members/directory.py) ----------------------


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


def _keep_an_owner(session: Session, *, member_id: int, leaving: Account) -> None:
    others = [a for a in owners(session, member_id=member_id) if a.id != leaving.id]
    if leaving.role == Role.owner and not others:
        raise NotAllowed(_("A co-op needs at least one owner. Make someone else an owner first."))


def change_role(session: Session, *, member_id: int, account: Account, role: Role) -> Account:
    if role not in (Role.owner, Role.staff):
        raise MemberFormError("role", _("Choose owner or staff."))
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


def alert_admins(session: Session, *, subject: str | LazyProxy, message: str | LazyProxy) -> None:
    """Email every active Club admin (a paused send, a payment that does not add up), in
    the Club's language: give the subject and message as `lazy_gettext(...)`."""
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
