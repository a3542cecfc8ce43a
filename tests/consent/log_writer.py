"""A process that changes one person's consent many times, each change committed on its
own, as a busy web server would: requested, confirmed, withdrawn, and again.

    python -m tests.consent.log_writer SUBSCRIBER_ID TOPIC_ID CHANGES
"""

from __future__ import annotations

import sys

from app.consent.models import ConsentAction, ConsentScope, ConsentSource
from app.consent.service import current_text, record_consent
from app.db import session_scope
from app.subscribers.models import Subscriber, Topic

CYCLE = (ConsentAction.requested, ConsentAction.confirmed, ConsentAction.withdrawn)


def main(subscriber_id: int, topic_id: int, changes: int) -> None:
    for n in range(changes):
        with session_scope() as session:
            action = CYCLE[n % 3]
            record_consent(
                session,
                subscriber=session.get(Subscriber, subscriber_id),
                scope=ConsentScope.topic,
                action=action,
                source=ConsentSource.api,
                consent_text=current_text(session, ConsentScope.topic)
                if action != ConsentAction.withdrawn
                else None,
                token_digest=None,
                topic=session.get(Topic, topic_id),
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
