"""Newsletters and issues: composing, previewing, scheduling and the archive.

Only drafts are editable. Scheduling checks everything an editor can get wrong
(the time, the topics, the blocks), compiles the issue once and freezes it; the send
pipeline recompiles it once more at send time only to place approved creatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.admin_labels import state_name
from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.mailing.alignment import alignment_problem
from app.mailing.templates import fill
from app.newsletters.models import (
    SLOT_KINDS,
    BlockKind,
    Issue,
    IssueBlock,
    IssueStatus,
    Newsletter,
    NewsletterTopic,
)
from app.newsletters.render import BlockProblem, IssueRenderError, PlacedCreative, compile_issue
from app.one_line_text import has_control_characters
from app.subscribers.models import Subscriber, Subscription, SubscriptionStatus, Suppression, Topic


class NewsletterError(Exception):
    """Something the editor can fix; `field` names the form field when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IssueStateError(Exception):
    """The issue's status does not allow this (e.g. editing a scheduled issue): 409."""


# Newsletters -------------------------------------------------------------------------


def list_newsletters(session: Session) -> Sequence[Newsletter]:
    """The Club's newsletters (members' own mailings newsletters are not among them)."""
    return session.exec(
        select(Newsletter).where(col(Newsletter.member_id).is_(None)).order_by(Newsletter.name)
    ).all()


def in_archive(newsletter: Newsletter) -> bool:
    """The Club's newsletters are public; a member's mailings are reachable by link only."""
    return newsletter.member_id is None


def get_by_slug(session: Session, slug: str) -> Newsletter | None:
    return session.exec(select(Newsletter).where(Newsletter.slug == slug)).first()


def topics_of(session: Session, newsletter_id: int) -> Sequence[Topic]:
    return session.exec(
        select(Topic)
        .join(NewsletterTopic, col(NewsletterTopic.topic_id) == col(Topic.id))
        .where(NewsletterTopic.newsletter_id == newsletter_id)
        .order_by(Topic.name)
    ).all()


def topic_ids(session: Session, newsletter_id: int) -> list[int]:
    """The ids of the newsletter's topics: who may receive it is decided by these."""
    return list(
        session.exec(
            select(NewsletterTopic.topic_id).where(NewsletterTopic.newsletter_id == newsletter_id)
        ).all()
    )


def set_topics(session: Session, newsletter: Newsletter, topic_ids: Sequence[int]) -> None:
    known = set(session.exec(select(Topic.id).where(col(Topic.id).in_(topic_ids))).all())
    unknown = set(topic_ids) - known
    if unknown:
        raise NewsletterError(_("one of the chosen topics no longer exists"), field="topics")
    for link in session.exec(
        select(NewsletterTopic).where(NewsletterTopic.newsletter_id == newsletter.id)
    ).all():
        if link.topic_id not in known:
            session.delete(link)
    existing = set(
        session.exec(
            select(NewsletterTopic.topic_id).where(NewsletterTopic.newsletter_id == newsletter.id)
        ).all()
    )
    for topic_id in known - existing:
        session.add(NewsletterTopic(newsletter_id=newsletter.id, topic_id=topic_id))
    session.flush()


def save_newsletter(
    session: Session, newsletter: Newsletter, *, topic_ids: Sequence[int]
) -> Newsletter:
    """Create or update a newsletter; a duplicate slug is the editor's to fix."""
    clash = session.exec(
        select(Newsletter.id).where(
            Newsletter.slug == newsletter.slug, col(Newsletter.id) != (newsletter.id or -1)
        )
    ).first()
    if clash is not None:
        raise NewsletterError(_("another newsletter already uses this slug"), field="slug")
    problem = alignment_problem(newsletter.sender_address, get_settings())
    if problem:
        raise NewsletterError(problem, field="sender_address")
    session.add(newsletter)
    session.flush()
    set_topics(session, newsletter, topic_ids)
    return newsletter


def audience_estimate(session: Session, newsletter_id: int) -> int:
    """People who would receive an issue sent now: distinct active subscribers on the
    newsletter's topics, minus suppressed addresses (an estimate: consent can change)."""
    topic_ids = select(NewsletterTopic.topic_id).where(
        NewsletterTopic.newsletter_id == newsletter_id
    )
    suppressed = select(Suppression.address_hmac)
    count = session.exec(
        select(func.count(func.distinct(Subscription.subscriber_id)))
        .join(Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id))
        .where(
            col(Subscription.topic_id).in_(topic_ids),
            Subscription.status == SubscriptionStatus.active,
            col(Subscriber.address_hmac).not_in(suppressed),
        )
    ).one()
    return int(count)


# Issues ------------------------------------------------------------------------------


def default_blocks(newsletter: Newsletter) -> list[IssueBlock]:
    """A new issue's skeleton: an opening text, the layout's sponsor slots, the main
    text, then its classified slots."""
    kinds = (
        [BlockKind.text]
        + [BlockKind.sponsor] * newsletter.sponsor_slots
        + [BlockKind.text]
        + [BlockKind.classified] * newsletter.classified_slots
    )
    return [
        IssueBlock(issue_id=0, position=n, kind=kind, required=(n == 1))
        for n, kind in enumerate(kinds, start=1)
    ]


_SUBJECT_PROBLEM = lazy_gettext(
    "the subject must be one line of text, without control characters such as line breaks "
    "or tabs, or invisible ones such as direction overrides"
)
_PREHEADER_PROBLEM = lazy_gettext(
    "the preheader must be one line of text, without control characters such as line breaks "
    "or tabs, or invisible ones such as direction overrides"
)


def _check_subject(subject: str, preheader: str = "") -> None:
    if not subject.strip():
        raise NewsletterError(_("give the issue a subject"), field="subject")
    for name, value, problem in (
        ("subject", subject, _SUBJECT_PROBLEM),
        ("preheader", preheader, _PREHEADER_PROBLEM),
    ):
        if has_control_characters(value):
            raise NewsletterError(str(problem), field=name)


def create_issue(session: Session, newsletter: Newsletter, *, subject: str) -> Issue:
    _check_subject(subject)
    last = session.exec(
        select(func.max(Issue.number)).where(Issue.newsletter_id == newsletter.id)
    ).one()
    issue = Issue(newsletter_id=newsletter.id or 0, number=(last or 0) + 1, subject=subject.strip())
    session.add(issue)
    session.flush()
    for block in default_blocks(newsletter):
        block.issue_id = issue.id or 0
        session.add(block)
    session.flush()
    return issue


def blocks_of(session: Session, issue_id: int, *, fresh: bool = False) -> Sequence[IssueBlock]:
    """The issue's blocks in order (without the ones removed in the editor); `fresh`:
    as stored now, even those this session has read before."""
    return session.exec(
        select(IssueBlock)
        .where(IssueBlock.issue_id == issue_id, col(IssueBlock.removed_at).is_(None))
        .order_by(IssueBlock.position)
        .execution_options(populate_existing=fresh)
    ).all()


def issues_of(session: Session, newsletter_id: int) -> Sequence[Issue]:
    return session.exec(
        select(Issue).where(Issue.newsletter_id == newsletter_id).order_by(col(Issue.number).desc())
    ).all()


def require_draft(issue: Issue) -> None:
    if issue.status != IssueStatus.draft:
        raise IssueStateError(
            _(
                "this issue is %(status)s; only drafts can be edited "
                "(return it to draft first if it has not started sending)",
                status=state_name(issue.status),
            )
        )


@dataclass
class BlockInput:
    id: int
    heading: str = ""
    body: str = ""
    url: str = ""
    alt: str = ""
    label: str = ""


def update_issue(
    session: Session, issue: Issue, *, subject: str, preheader: str, blocks: Sequence[BlockInput]
) -> None:
    require_draft(issue)
    _check_subject(subject, preheader)
    issue.subject, issue.preheader = subject.strip(), preheader.strip()
    by_id = {b.id: b for b in blocks_of(session, issue.id or 0)}
    for change in blocks:
        block = by_id.get(change.id)
        if block is None or block.kind in SLOT_KINDS:
            continue  # slot blocks carry no editorial content
        block.heading, block.body = change.heading.strip(), change.body
        block.url, block.alt, block.label = (
            change.url.strip(),
            change.alt.strip(),
            change.label.strip(),
        )
    issue.updated_at = utcnow()
    session.flush()


def web_url(newsletter: Newsletter, issue: Issue) -> str:
    return f"{get_settings().base_url}/archive/{newsletter.slug}/{issue.number}"


def compile_for(
    session: Session, issue: Issue, creatives: dict[int, PlacedCreative] | None = None
) -> tuple[str, str]:
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    return compile_issue(
        newsletter=newsletter,
        issue=issue,
        blocks=blocks_of(session, issue.id or 0),
        topic_names=[t.name for t in topics_of(session, newsletter.id or 0)],
        web_url=web_url(newsletter, issue),
        creatives=creatives,
    )


SAMPLE_PERSON = {
    "first_name": "Alex",
    "personal": True,
    "unsubscribe_url": "#unsubscribe-link-is-personal",
    "preferences_url": "#preferences-link-is-personal",
}


def preview(session: Session, issue: Issue) -> tuple[str, str]:
    """The issue as a subscriber named Alex would see it (raises IssueRenderError)."""
    html, text = (
        (issue.compiled_html, issue.compiled_text)
        if issue.compiled_html and issue.compiled_text
        else compile_for(session, issue)
    )
    return fill(html, text, postal_address=get_settings().postal_address, **SAMPLE_PERSON)


def parse_schedule(when: str, timezone: str) -> datetime:
    """A local date and time in the named timezone, as aware UTC."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise NewsletterError(
            _("unknown timezone %(timezone)s", timezone=repr(timezone)), field="timezone"
        ) from None
    try:
        local = datetime.fromisoformat(when)
    except ValueError:
        raise NewsletterError(
            _("give a date and time, e.g. 2026-12-01 09:00"), field="when"
        ) from None
    if local.tzinfo is not None:
        local = local.replace(tzinfo=None)
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))


def schedule(session: Session, issue: Issue, *, send_at: datetime, timezone: str) -> None:
    """Freeze a draft for sending at `send_at` (aware). Raises NewsletterError for each
    reason an editor must fix, IssueRenderError with per-block problems."""
    require_draft(issue)
    if send_at <= utcnow():
        raise NewsletterError(
            _("that time has already passed: pick a time in the future"), field="when"
        )
    if not topics_of(session, issue.newsletter_id):
        raise NewsletterError(
            _("this newsletter has no topics, so nobody would receive it: choose its topics first"),
            field="topics",
        )
    missing = [
        b.position
        for b in blocks_of(session, issue.id or 0)
        if b.required and b.kind == BlockKind.text and not b.body.strip()
    ]
    if missing:
        raise IssueRenderError(
            [
                BlockProblem(p, _("this block is required: fill it in before scheduling"))
                for p in missing
            ]
        )
    issue.compiled_html, issue.compiled_text = compile_for(session, issue)
    issue.scheduled_at, issue.timezone = send_at, timezone
    issue.status, issue.frozen_at = IssueStatus.scheduled, utcnow()
    session.flush()


def return_to_draft(session: Session, issue: Issue) -> None:
    if issue.status != IssueStatus.scheduled:
        raise IssueStateError(
            _(
                "only a scheduled issue can go back to draft; this one is %(status)s",
                status=state_name(issue.status),
            )
        )
    issue.status, issue.scheduled_at = IssueStatus.draft, None
    issue.compiled_html = issue.compiled_text = None
    issue.frozen_at = None
    session.flush()


# The archive -------------------------------------------------------------------------


def sent_issues(session: Session, newsletter_id: int) -> Sequence[Issue]:
    return session.exec(
        select(Issue)
        .where(Issue.newsletter_id == newsletter_id, Issue.status == IssueStatus.sent)
        .order_by(col(Issue.number).desc())
    ).all()


def web_version(issue: Issue, *, noindex: bool = False) -> str:
    """The web version: the sent email with every personal link removed (and, for a
    member's mailing, marked for search engines not to list)."""
    html, _text = fill(
        issue.compiled_html or "",
        issue.compiled_text or "",
        personal=False,
        first_name=None,
        postal_address=get_settings().postal_address,
    )
    if noindex:
        html = html.replace("<head>", '<head><meta name="robots" content="noindex">', 1)
    return html
