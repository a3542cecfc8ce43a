"""Inviting people to a member's team: the invited person gets an email with a link to
accept or ignore; no account exists until they accept.

Only an active member invites (not an application the Club has not approved yet), and
invitations are rate-limited per address and per member, so the Club's mail cannot be
aimed at anyone by anyone who applies. The subject is the Club's words; the co-op's and
the inviter's names (typed by members) are in the body, escaped.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from app import ratelimit, signing
from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext, ngettext
from app.mailing.service import queue_transactional
from app.members.models import Account, Invitation, Member, Role
from app.members.service import MemberFormError, account_by_email, normalise_email

LIFETIME = timedelta(days=14)
SUBJECT = lazy_gettext("You are invited to a co-op's team on Co-op Data Club")
ROLE_NAMES = {Role.owner: lazy_gettext("an owner"), Role.staff: lazy_gettext("a staff member")}


class InvitationRefused(Exception):
    """The link is not valid, has expired, was used, or can no longer be accepted (400)."""


def invite(
    session: Session,
    *,
    member: Member,
    invited_by: Account,
    email: str,
    display_name: str = "",
    role: Role = Role.staff,
) -> Invitation:
    """Invite a person to the member's team; they are emailed a link to accept."""
    if role not in (Role.owner, Role.staff):
        raise MemberFormError("role", _("Choose owner or staff."))
    if not member.is_active:
        raise MemberFormError(
            "email", _("Your co-op can invite people once the Club has approved its membership.")
        )
    address = normalise_email(email)
    account = account_by_email(session, email=address)
    if account is not None and account.active:
        if account.member_id == member.id:
            raise MemberFormError("email", _("This person is already on your staff."))
        raise MemberFormError(
            "email", _("This address already has an account with another organisation.")
        )
    limits = get_settings()
    if not ratelimit.hit(
        "invite-address", address, limit=limits.invitations_per_address, window_seconds=86_400
    ):
        raise MemberFormError(
            "email", _("This address has been invited too often today; try again tomorrow.")
        )
    if not ratelimit.hit(
        "invite-member", str(member.id), limit=limits.invitations_per_member, window_seconds=3600
    ):
        raise MemberFormError(
            "email",
            ngettext(
                "Your co-op has invited %(num)s person this hour; try again in an hour.",
                "Your co-op has invited %(num)s people this hour; try again in an hour.",
                limits.invitations_per_member,
            ),
        )
    invitation = Invitation(
        member_id=member.id or 0,
        email=address,
        display_name=display_name.strip()[:120],
        role=role,
        invited_by=invited_by.id,
    )
    session.add(invitation)
    session.flush()
    queue_transactional(
        session,
        kind="staff-invitation",
        to=address,
        subject=SUBJECT,
        template="staff_invitation",
        member_name=member.name,
        inviter=invited_by.label,
        role=ROLE_NAMES.get(role, role.value),
        email=address,
        accept_url=f"{get_settings().base_url}/invitations/{token_for(invitation)}",
        days=LIFETIME.days,
    )
    return invitation


def pending(session: Session, *, member_id: int) -> list[Invitation]:
    """Invitations of this member not accepted yet and not expired, newest first."""
    return list(
        session.exec(
            select(Invitation)
            .where(
                Invitation.member_id == member_id,
                col(Invitation.accepted_at).is_(None),
                col(Invitation.created_at) > utcnow() - LIFETIME,
            )
            .order_by(col(Invitation.id).desc())
        ).all()
    )


def token_for(invitation: Invitation) -> str:
    return signing.sign(signing.Purpose.invitation, {"i": invitation.id})


def read(session: Session, *, token: str) -> tuple[Invitation, Member]:
    """The invitation behind a link, if it can still be accepted."""
    try:
        payload = signing.unsign(
            signing.Purpose.invitation, token, max_age=int(LIFETIME.total_seconds())
        )
    except signing.ExpiredToken:
        raise InvitationRefused(
            _("This invitation has expired: ask the co-op to invite you again.")
        ) from None
    except signing.InvalidToken:
        raise InvitationRefused(_("This invitation link is not valid.")) from None
    invitation_id = payload.get("i") if isinstance(payload, dict) else None
    invitation = session.get(Invitation, invitation_id) if isinstance(invitation_id, int) else None
    if invitation is None:
        raise InvitationRefused(_("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise InvitationRefused(
            _("This invitation was accepted already: log in with your address.")
        )
    member = session.get(Member, invitation.member_id)
    if member is None or not member.is_active:
        raise InvitationRefused(_("This co-op cannot take new people right now."))
    return invitation, member


def accept(session: Session, *, token: str) -> Account:
    """Accept: the account is made (or a closed one reopened) on the member's team."""
    invitation, member = read(session, token=token)
    # Two clicks at once: the second waits here, then finds the invitation accepted.
    session.exec(
        select(Invitation)
        .where(Invitation.id == invitation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if invitation.accepted_at is not None:
        raise InvitationRefused(
            _("This invitation was accepted already: log in with your address.")
        )
    account = account_by_email(session, email=invitation.email)
    if account is not None and account.active:
        raise InvitationRefused(
            _("This address already has an account on the Club: log in with it instead.")
        )
    account = account or Account(email=invitation.email, role=invitation.role)
    account.member_id, account.role, account.active = member.id, invitation.role, True
    account.display_name = invitation.display_name or account.display_name
    invitation.accepted_at = utcnow()
    session.add_all([account, invitation])
    session.flush()
    return account
