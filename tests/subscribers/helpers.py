"""Shared steps for subscription tests: topics, filling forms, following mailed links."""

from __future__ import annotations

import re
import time

from click.testing import CliRunner
from sqlmodel import select

from app import signing
from app.cli import cli
from app.db import session_scope
from app.members.models import Member, MemberStatus
from app.subscribers.models import Subscriber, Subscription, Topic


def make_topics() -> dict[str, int]:
    with session_scope() as session:
        member = Member(name="Riverside Food Co-op", slug="riverside", status=MemberStatus.active)
        session.add(member)
        session.flush()
        topics = [
            Topic(slug="food", name="Food co-ops", description="Groceries and more"),
            Topic(slug="housing", name="Housing", description="Housing co-ops"),
            Topic(slug="riverside-news", name="Riverside news", member_id=member.id),
            Topic(slug="secret", name="Unlisted list", public=False),
        ]
        session.add_all(topics)
        session.flush()
        return {t.slug: t.id for t in topics}


def form_token(member_slug: str, topic_slugs: list[str]) -> str:
    """The signed token of the member's signup snippet for these topics."""
    from app.subscribers import embed

    with session_scope() as session:
        member = session.exec(select(Member).where(Member.slug == member_slug)).one()
        topics = [session.exec(select(Topic).where(Topic.slug == s)).one() for s in topic_slugs]
        return embed.form_token(member, topics)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def aged_timestamp(seconds: int = 10) -> str:
    return signing.sign(signing.Purpose.form_time, int(time.time()) - seconds)


def hosted_form(client, **fields) -> dict:
    page = client.get("/subscribe")
    data = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "form_ts": aged_timestamp(),  # as if a person took ten seconds to fill it in
        "email": "reader@example.org",
        "topics": ["food"],
    }
    data.update(fields)
    return data


def link_in(received, path: str) -> str:
    match = re.search(rf"http://testserver(/{path}/[A-Za-z0-9_.\-]+)", received.text())
    assert match, f"no /{path}/ link in: {received.text()}"
    return match.group(1)


def sharing_choices(html: str) -> list[str]:
    """The sharing checkboxes a confirmation page offers (topic ids), never pre-ticked."""
    boxes = re.findall(r'<input type="checkbox" name="sharing" value="(\d+)"([^>]*)>', html)
    assert all("checked" not in rest for _, rest in boxes), "sharing must start unticked"
    return [value for value, _ in boxes]


def confirm_link(client, url: str, *, share: bool = False):
    """Open a confirmation link and press Confirm, ticking every sharing choice if
    `share` (as a person who wants offers would)."""
    page = client.get(url)
    assert page.status_code == 200 and "Confirm" in page.text
    data = {"csrf_token": hidden(page.text, "csrf_token")}
    if share:
        data["sharing"] = sharing_choices(page.text)
    return client.post(url, data=data)


def confirm_from_mail(client, smtp, address: str, run_jobs, *, share: bool = False):
    run_jobs()
    (mail,) = smtp.wait_for(address)
    return confirm_link(client, link_in(mail, "confirm"), share=share)


def statuses(email: str) -> dict[str, tuple[str, str | None]]:
    with session_scope() as session:
        subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).first()
        if subscriber is None:
            return {}
        rows = session.exec(
            select(Subscription, Topic)
            .join(Topic, Topic.id == Subscription.topic_id)
            .where(Subscription.subscriber_id == subscriber.id)
        ).all()
        return {t.slug: (str(s.status), str(s.sharing) if s.sharing else None) for s, t in rows}


def assert_ledger_verifies(run_jobs) -> None:
    """`coopclub consent verify` passes: the log matches its signed checkpoint and every
    active consent was confirmed after its last request. The jobs run first, so the
    sequencer has sealed the latest events into the log."""
    run_jobs()
    result = CliRunner().invoke(cli, ["consent", "verify"])
    assert result.exit_code == 0, result.output
