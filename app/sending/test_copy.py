"""A test copy of an issue: the real message, built by the send pipeline's own composer
for the person testing (their own links, every header, the slots as booked), with
"[Test]" before the subject. It travels as transactional mail, so it never waits
behind a send."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from app.audiences.service import for_issue
from app.config import get_settings
from app.mailing.models import TransactionalEmail
from app.mailing.service import queue_prepared
from app.mailing.templates import fill
from app.mailing.verp import transactional_verp_address
from app.marketplace.placement import creatives_for_issue
from app.newsletters.models import Issue
from app.newsletters.service import compile_for
from app.sending.batches import issue_composer
from app.sending.composer import Recipient
from app.subscribers.models import Subscriber
from app.subscribers.service import preferences_url, subscriber_by_email, unsubscribe_url


def send_test_copy(session: Session, issue: Issue, *, to: str) -> TransactionalEmail:
    html, text = compile_for(session, issue, creatives_for_issue(session, issue, place=False))
    audience = for_issue(session, issue)
    subscriber = subscriber_by_email(session, to)
    # Someone not on the list gets links of the same kind that lead to the same pages
    # and change nothing (they name no one), so every link in the copy can be tried.
    holder = subscriber or Subscriber(id=0, key="test-copy", email=to, address_hmac="")
    reason = (
        audience.reasons(session, [subscriber.id or 0]).get(subscriber.id or 0)
        if subscriber
        else None
    )
    recipient = Recipient(
        delivery_id=0,
        email=to,
        first_name=subscriber.first_name if subscriber else None,
        unsubscribe_url=unsubscribe_url(
            holder, sorted(audience.topic_ids), audience.newsletter.language
        ),
        preferences_url=preferences_url(holder),
        reason=audience.sentence(reason) if reason else "",
    )
    composer = issue_composer(
        session,
        issue,
        audience,
        html=html,
        text=text,
        subject=f"[Test] {issue.subject}",
        seed_prefix="test",
    )

    def build(email: TransactionalEmail) -> bytes:
        return_path = transactional_verp_address(email.id or 0, get_settings())
        copy = replace(recipient, delivery_id=email.id or 0)
        return composer.compose(copy, return_path=return_path).raw

    # The row keeps a readable copy too; `raw` is what is sent.
    preview_html, preview_text = fill(
        html,
        text,
        personal=True,
        postal_address=get_settings().postal_address,
        **recipient.values(),
    )
    return queue_prepared(
        session,
        kind="issue-test",
        to=to,
        subject=f"[Test] {issue.subject}",
        html=preview_html,
        text=preview_text,
        build=build,
    )
