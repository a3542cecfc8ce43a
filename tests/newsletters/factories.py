"""Plain functions that put topics, newsletters and issues in place."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.db import session_scope, utcnow
from app.newsletters import service
from app.newsletters.models import Issue, IssueBlock, IssueStatus, Newsletter
from app.subscribers.models import Topic


def make_topic(slug: str, name: str | None = None) -> Topic:
    with session_scope() as session:
        topic = Topic(slug=slug, name=name or slug.replace("-", " ").title())
        session.add(topic)
    return topic


def make_newsletter(
    slug: str = "commons", *, topics: list[Topic] | None = None, **fields
) -> Newsletter:
    fields.setdefault("name", "The Co-op Commons")
    fields.setdefault("sender_name", "Co-op Data Club")
    fields.setdefault("sender_address", "news@club.example.org")
    with session_scope() as session:
        newsletter = Newsletter(slug=slug, **fields)
        service.save_newsletter(session, newsletter, topic_ids=[t.id for t in topics or []])
    return newsletter


def make_issue(
    newsletter: Newsletter,
    subject: str = "Spring at the co-ops",
    intro: str = "Welcome to this issue.",
) -> Issue:
    with session_scope() as session:
        issue = service.create_issue(session, newsletter, subject=subject)
        first = session.exec(
            select(IssueBlock).where(IssueBlock.issue_id == issue.id, IssueBlock.position == 1)
        ).one()
        first.body = intro
    return issue


def schedule_soon(issue: Issue) -> Issue:
    with session_scope() as session:
        issue = session.get(Issue, issue.id)
        service.schedule(session, issue, send_at=utcnow() + timedelta(hours=1), timezone="UTC")
    return issue


def mark_sent(issue: Issue) -> None:
    with session_scope() as session:
        row = session.get(Issue, issue.id)
        if row.status == IssueStatus.draft:
            service.schedule(session, row, send_at=utcnow() + timedelta(hours=1), timezone="UTC")
        row.status, row.sent_at = IssueStatus.sent, utcnow()
