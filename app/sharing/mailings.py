"""Member mailings: a receiving member composes one (subject and blocks, the newsletter
templates), an admin approves it, and the send pipeline sends it to the member's own
subscribers plus its shared audiences.

Design: a member mailing is an Issue of a newsletter kept per member ("<member>
mailings", the member's own topics, no slots, the Club's sender address), wrapped by a
MemberMailing row that carries the approval. The pipeline therefore schedules, freezes,
assembles, sends, pauses and reports it exactly as any issue; assembly adds the shared
audience when the issue has a MemberMailing, and the composer shows the member's name.
"""

from __future__ import annotations

from email.utils import parseaddr

from markupsafe import escape
from sqlmodel import Session, col, func, select

from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.members.models import Member
from app.newsletters import service as newsletters
from app.newsletters.models import Issue, IssueBlock, IssueStatus, Newsletter
from app.newsletters.render import IssueRenderError
from app.sending import lifecycle
from app.sharing.audience import shared_subscriber_ids_query
from app.sharing.models import MailingStatus, MemberMailing
from app.sharing.service import SharingError
from app.subscribers.models import Topic
from app.subscribers.service import active_subscriber_ids_query

# What a member reads for a mailing's review status and its sending, in the page's
# language (the stored values stay the codes).
STATUS_NAMES = {
    MailingStatus.draft: lazy_gettext("draft"),
    MailingStatus.submitted: lazy_gettext("waiting for review"),
    MailingStatus.approved: lazy_gettext("approved for sending"),
    MailingStatus.rejected: lazy_gettext("returned"),
}
SENDING_NAMES = {
    IssueStatus.draft: lazy_gettext("not yet"),
    IssueStatus.scheduled: lazy_gettext("scheduled"),
    IssueStatus.sending: lazy_gettext("in progress"),
    IssueStatus.paused: lazy_gettext("paused"),
    IssueStatus.sent: lazy_gettext("all sent"),
    IssueStatus.cancelled: lazy_gettext("stopped"),
}
NAMES = {"status_names": STATUS_NAMES, "sending_names": SENDING_NAMES}


def mailings_newsletter(session: Session, member: Member) -> Newsletter:
    """The member's mailings newsletter (found by the member's id, never by a slug that two
    members could share), its topics kept equal to the member's own."""
    newsletter = session.exec(select(Newsletter).where(Newsletter.member_id == member.id)).first()
    if newsletter is None:
        newsletter = Newsletter(
            member_id=member.id,
            slug=f"member-mailings-{member.id}",
            name=f"{member.name}: member mailings",
            sender_name=member.name[:120],
            sender_address=parseaddr(get_settings().mail_from)[1],
            sponsor_slots=0,
            classified_slots=0,
        )
    own = session.exec(select(Topic.id).where(Topic.member_id == member.id)).all()
    newsletters.save_newsletter(session, newsletter, topic_ids=[t for t in own if t])
    return newsletter


def create(session: Session, *, member: Member, subject: str) -> MemberMailing:
    issue = newsletters.create_issue(session, mailings_newsletter(session, member), subject=subject)
    mailing = MemberMailing(member_id=member.id or 0, issue_id=issue.id or 0)
    session.add(mailing)
    session.flush()
    return mailing


def of_member(session: Session, *, member_id: int, mailing_id: int) -> MemberMailing | None:
    mailing = session.get(MemberMailing, mailing_id)
    return mailing if mailing is not None and mailing.member_id == member_id else None


def list_for(session: Session, member_id: int) -> list[tuple[MemberMailing, Issue]]:
    return list(
        session.exec(
            select(MemberMailing, Issue)
            .join(Issue, col(Issue.id) == MemberMailing.issue_id)
            .where(MemberMailing.member_id == member_id)
            .order_by(col(MemberMailing.id).desc())
        ).all()
    )


def submitted(session: Session) -> list[tuple[MemberMailing, Issue, Member]]:
    return list(
        session.exec(
            select(MemberMailing, Issue, Member)
            .join(Issue, col(Issue.id) == MemberMailing.issue_id)
            .join(Member, col(Member.id) == MemberMailing.member_id)
            .where(MemberMailing.status == MailingStatus.submitted)
            .order_by(col(MemberMailing.submitted_at))
        ).all()
    )


def blocks(session: Session, mailing: MemberMailing) -> list[IssueBlock]:
    return list(newsletters.blocks_of(session, mailing.issue_id))


def update(
    session: Session, *, mailing: MemberMailing, subject: str, bodies: dict[int, str]
) -> None:
    if mailing.status not in (MailingStatus.draft, MailingStatus.rejected):
        raise SharingError(_("this mailing was submitted; it can no longer be edited"), status=409)
    issue = session.get(Issue, mailing.issue_id)
    assert issue is not None
    changes = [
        newsletters.BlockInput(id=b.id or 0, heading=b.heading, body=bodies.get(b.id or 0, b.body))
        for b in blocks(session, mailing)
    ]
    try:
        newsletters.update_issue(session, issue, subject=subject, preheader="", blocks=changes)
    except newsletters.NewsletterError as exc:
        raise SharingError(str(exc), field="subject") from None


def audience_size(session: Session, mailing: MemberMailing) -> int:
    """How many people it would reach now: own subscribers plus shared audiences."""
    from app.audiences import service as audiences

    issue = session.get(Issue, mailing.issue_id)
    assert issue is not None
    query = audiences.for_issue(session, issue).query(session).order_by(None).subquery()
    return int(session.exec(select(func.count()).select_from(query)).one())


def counts(session: Session, member: Member) -> tuple[int, int]:
    """(own audience, shared audience) counts for the member's pages."""
    own_topics = [t for t in session.exec(select(Topic.id).where(Topic.member_id == member.id))]
    own = active_subscriber_ids_query([t for t in own_topics if t]).order_by(None).subquery()
    own_count = int(session.exec(select(func.count()).select_from(own)).one())
    shared = shared_subscriber_ids_query(session, member.id or 0)
    shared_count = (
        int(session.exec(select(func.count()).select_from(shared.order_by(None).subquery())).one())
        if shared is not None
        else 0
    )
    return own_count, shared_count


def submit(session: Session, *, mailing: MemberMailing) -> None:
    if mailing.status not in (MailingStatus.draft, MailingStatus.rejected):
        raise SharingError(
            _("this mailing is already %(status)s", status=STATUS_NAMES[mailing.status]),
            status=409,
        )
    if audience_size(session, mailing) == 0:
        raise SharingError(
            _(
                "nobody would receive this mailing: your co-op has no active subscribers"
                " and no active sharing agreement with anyone who consented"
            ),
            status=422,
        )
    blocks_ = blocks(session, mailing)
    if not any(b.body.strip() for b in blocks_):
        raise SharingError(_("write the mailing's text before submitting it"), field="body")
    mailing.status, mailing.submitted_at, mailing.review_note = (
        MailingStatus.submitted,
        utcnow(),
        "",
    )
    session.flush()


def approve(session: Session, *, mailing: MemberMailing) -> None:
    """Freeze the content and start sending now (the send pipeline takes over)."""
    if mailing.status != MailingStatus.submitted:
        raise SharingError(
            _("this mailing is %(status)s, not submitted", status=STATUS_NAMES[mailing.status]),
            status=409,
        )
    issue = session.get(Issue, mailing.issue_id)
    assert issue is not None
    if issue.status != IssueStatus.draft:
        raise SharingError(_("this mailing's issue is not a draft"), status=409)
    issue.compiled_html, issue.compiled_text = newsletters.compile_for(session, issue)
    issue.scheduled_at = issue.frozen_at = utcnow()
    issue.status = IssueStatus.scheduled
    session.flush()
    lifecycle.start(session, issue)
    mailing.status, mailing.decided_at = MailingStatus.approved, utcnow()
    session.flush()


def reject(session: Session, *, mailing: MemberMailing, note: str) -> None:
    if mailing.status != MailingStatus.submitted:
        raise SharingError(
            _("this mailing is %(status)s, not submitted", status=STATUS_NAMES[mailing.status]),
            status=409,
        )
    mailing.status, mailing.decided_at = MailingStatus.rejected, utcnow()
    mailing.review_note = note.strip()[:500]
    session.flush()


def preview_html(session: Session, mailing: MemberMailing) -> str:
    """The mailing exactly as its readers will get it (for a sample reader), for the
    member writing it and the admin approving it."""
    issue = session.get(Issue, mailing.issue_id)
    assert issue is not None
    try:
        html, _text = newsletters.preview(session, issue)
    except IssueRenderError as exc:
        return (
            "<!doctype html><meta charset='utf-8'><p><em>Not ready to show yet: "
            f"{escape(str(exc))}.</em></p>"
        )
    return html
