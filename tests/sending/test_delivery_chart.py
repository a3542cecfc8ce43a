"""The sending page draws the issue's deliveries by outcome, once there are any."""

from __future__ import annotations

from app.db import session_scope
from app.members.models import Role
from app.newsletters.models import Issue, IssueStatus
from app.sending.models import Delivery, DeliveryStatus
from app.subscribers.models import Subscriber
from tests.members.factories import log_in, make_account
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.test_charts import bars

CHART = 'aria-label="Deliveries of this issue by outcome"'


def test_the_sending_page_charts_deliveries_by_outcome(client):
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[make_topic("food")])))
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    page = client.get(f"/admin/issues/{issue.id}/sending").text
    assert CHART not in page and "Nothing has been sent yet" in page
    assert 'id="p-bar" max="100" value="0.0"' in page  # the progress bar starts empty
    assert 'style="' not in page

    outcomes = (
        [DeliveryStatus.sent] * 4
        + [DeliveryStatus.failed]
        + [DeliveryStatus.bounced, DeliveryStatus.complained]
        + [DeliveryStatus.skipped] * 2
        + [DeliveryStatus.queued]
    )
    with session_scope() as session:
        # A paused send, set directly: starting for real would enqueue the assembly,
        # which the session's worker could run while this test looks.
        row = session.get(Issue, issue.id)
        row.status, row.pause_reason = IssueStatus.paused, "Checking the chart."
        for n, status in enumerate(outcomes):
            subscriber = Subscriber(email=f"p{n}@example.org", address_hmac=f"h{n}")
            session.add(subscriber)
            session.flush()
            session.add(
                Delivery(issue_id=issue.id, subscriber_id=subscriber.id, batch=0, status=status)
            )

    page = client.get(f"/admin/issues/{issue.id}/sending").text
    assert CHART in page
    drawn = bars(page)
    assert {label: value for label, (_, value) in drawn.items()} == {
        "Sent": 4,
        "Failed": 1,
        "Bounced": 2,
        "Skipped": 2,
        "Still queued": 1,
    }
    assert drawn["Sent"][0] == 2 * drawn["Skipped"][0] > 0
    assert "reload to bring it up to date" in page
    assert 'id="p-bar" max="100" value="90.0"' in page  # 9 of 10 done
    assert 'style="' not in page
