"""Every transactional kind written in the reader's language (all but the directory
suggestion, which follows the Club's), in French and in Spanish, scores with SpamAssassin as
the English does (0.0 or below) and stays far below Gmail's clipping size (102 KB)."""

from __future__ import annotations

import re

from tests.mailing.kinds import (
    IN_ASKERS_LANGUAGE,
    TRANSACTIONAL,
    queue_every_transactional,
    start_every_flow,
)
from tests.mailing.test_spam_scores import pytestmark as needs_spamassassin
from tests.mailing.test_spam_scores import score

pytestmark = needs_spamassassin
GMAIL_CLIPS_AT = 102 * 1024


def test_every_kind_in_french_and_spanish_scores_zero_or_less(smtp, run_jobs):
    for language in ("fr", "es"):
        queue_every_transactional(language)
        start_every_flow(language)
    run_jobs()
    too_high, too_big = {}, {}
    for language in ("fr", "es"):
        for kind in [kind for kind, *_ in TRANSACTIONAL] + list(IN_ASKERS_LANGUAGE):
            (mail,) = smtp.wait_for(f"{kind}-{language}@example.org")
            assert re.search(rf'<html lang="{language}"', mail.html()), (kind, language)
            points, status = score(mail.raw)
            if points > 0.0:
                too_high[(kind, language)] = status
            if len(mail.raw) >= GMAIL_CLIPS_AT:
                too_big[(kind, language)] = len(mail.raw)
    assert not too_high
    assert not too_big
