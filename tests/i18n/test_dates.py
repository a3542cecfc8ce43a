"""Moments on staff pages are written the reader's way, in UTC."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app import i18n
from app.db import utcnow
from app.members.models import Role
from tests.members.factories import log_in, make_account
from tests.newsletters.factories import make_topic
from tests.sending import factories as people

MOMENT = datetime(2026, 11, 30, 17, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "Nov 30, 2026 17:05"), ("fr", "30 nov. 2026 17:05"), ("es", "30 nov 2026 17:05")],
)
def test_a_moment_is_written_in_the_readers_language(language, written):
    with i18n.using(language):
        assert i18n.format_when(MOMENT) == written
        # The same moment stored with another offset is still shown in UTC.
        assert i18n.format_when(MOMENT.astimezone(timezone(timedelta(hours=-5)))) == written


def test_the_admin_subscriber_list_writes_dates_the_french_way(client):
    people.active("reader@example.org", [make_topic("food")])
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    page = client.get("/admin/subscribers", headers={"Accept-Language": "fr"}).text
    with i18n.using("fr"):
        today = i18n.format_date(utcnow(), "medium")  # e.g. "30 nov. 2026"
    assert today in html.unescape(page)
