"""Every kind of message, judged from outside as receivers judge it: dkimpy verifies the
signature (and a forged second List-Unsubscribe or From breaks it), the headers say
what kind of mail it is, and nothing leaks a server detail."""

import re
import shutil

import dkim
import pytest

from app.config import get_settings
from app.db import session_scope
from app.marketplace.models import Booking, BookingStatus
from app.newsletters.models import Issue
from app.sending.test_copy import send_test_copy
from tests.mailing.kinds import BULK, dkim_key, every_kind
from tests.marketplace.factories import CREATIVE, make_booking, make_slots
from tests.members.factories import make_member

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture
def signed_kinds(tmp_path, monkeypatch, smtp, run_jobs):
    setup = dkim_key(tmp_path, get_settings(), monkeypatch, ["club.test", "club.example.org"])
    run_jobs()
    smtp.clear()
    return setup, every_kind(smtp, run_jobs)


def _tags(message) -> dict[str, str]:
    value = re.sub(r"\s+", "", message.message["DKIM-Signature"])
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_every_kind_is_signed_relaxed_and_verifies(signed_kinds):
    setup, kinds = signed_kinds
    assert len(kinds) == 14
    for kind, received in kinds.items():
        tags = _tags(received)
        assert tags["c"] == "relaxed/relaxed", kind
        newsletter_domain = kind in ("newsletter", "issue-test")
        assert tags["d"] == ("club.example.org" if newsletter_domain else "club.test"), kind
        signed = tags["h"].lower().split(":")
        for name in ("from", "subject"):
            assert signed.count(name) == 2, (kind, name)  # oversigned
        if kind in BULK:
            for name in ("list-id", "list-unsubscribe", "list-unsubscribe-post"):
                assert signed.count(name) == 2, (kind, name)
        assert dkim.verify(received.raw, dnsfunc=setup.dns), kind


def test_a_prepended_header_breaks_the_signature(signed_kinds):
    setup, kinds = signed_kinds
    for kind, received in kinds.items():
        forged = b"From: Someone Else <ceo@club.test>\r\n" + received.raw
        assert not dkim.verify(forged, dnsfunc=setup.dns), kind
        if kind in BULK:
            forged = b"List-Unsubscribe: <https://attacker.example/u>\r\n" + received.raw
            assert not dkim.verify(forged, dnsfunc=setup.dns), kind


def test_headers_say_what_kind_of_mail_it_is(signed_kinds):
    _, kinds = signed_kinds
    seen_ids = set()
    for kind, received in kinds.items():
        message = received.message
        assert message["Feedback-ID"], kind
        assert re.fullmatch(r"bounces\+t?\d+-[0-9a-f]{16}@club\.test", received.mail_from), kind
        message_id = message["Message-ID"]
        assert re.fullmatch(r"<[a-z2-7]{24}@[a-z.]+>", message_id), kind
        seen_ids.add(message_id)
        assert all("MIME-Version" not in part for part in message.iter_parts()), kind
        html = received.html()
        assert '<html lang="en"' in html and 'lang="und"' not in html, kind
        assert message["Content-Language"] == "en", kind
        if kind in BULK:
            assert message["Precedence"] == "bulk", kind
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", kind
            assert message["Auto-Submitted"] is None, kind
        else:
            assert message["Auto-Submitted"] == "auto-generated", kind
            assert message["Precedence"] is None and message["List-Id"] is None, kind
            assert received.mail_from.startswith("bounces+t"), kind
    assert len(seen_ids) == len(kinds)
    newsletter = kinds["newsletter"].message
    assert newsletter["List-Archive"] == "<http://testserver/archive/commons>"
    assert re.fullmatch(r"<http://testserver/archive/commons/\d+>", newsletter["Archived-At"])
    assert kinds["member-mailing"].message["Archived-At"] is None  # not in the archive


def test_the_test_copy_is_the_real_message_for_the_tester(signed_kinds, client):
    _, kinds = signed_kinds
    test, real = kinds["issue-test"].message, kinds["newsletter"].message
    assert test["Subject"] == "[Test] " + real["Subject"]
    for name in ("List-Id", "List-Unsubscribe-Post", "List-Archive", "Precedence", "From"):
        assert test[name] == real[name], name
    unsubscribe = re.fullmatch(r"<(http://testserver/u/[^>]+)>", test["List-Unsubscribe"])
    assert unsubscribe.group(1) in kinds["issue-test"].text()
    # Every personal link is genuine and leads to its page: the tester is on no list,
    # so the unsubscribe page changes nothing and the preferences page says we hold
    # nothing about them (its 404), never "this link is not valid" (400).
    urls = re.findall(r"http://testserver/(?:u|preferences)/\S+", kinds["issue-test"].text())
    assert len(urls) == 2
    for url in urls:
        page = client.get(url.removeprefix("http://testserver"))
        assert page.status_code in (200, 404) and "not valid" not in page.text, url


def test_a_test_copy_shows_the_slots_as_booked_and_books_nothing(smtp, run_jobs):
    issue, slots = make_slots()
    booking = make_booking(make_member("riverside"), slots[0], upto=BookingStatus.approved)
    with session_scope() as session:
        send_test_copy(session, session.get(Issue, issue.id), to="editor@example.org")
    run_jobs()
    (copy,) = smtp.to("editor@example.org")
    assert CREATIVE["headline"] in copy.html() and CREATIVE["headline"] in copy.text()
    with session_scope() as session:
        assert session.get(Booking, booking.id).status == BookingStatus.approved
