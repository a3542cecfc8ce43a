"""A member's mailings go out under a newsletter tied to that member by id (two members
whose slugs share a long prefix never share one), and member mailings stay out of the
public archive: their web version is reachable by its link only, marked noindex."""

from __future__ import annotations

import re

from sqlmodel import select

from app.db import session_scope
from app.members.models import Member, Role
from app.newsletters.models import Issue, Newsletter
from app.sharing import mailings
from tests.members.factories import log_in, make_account, make_member
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, mark_sent
from tests.sharing.helpers import owned_topic, person

LONG = "a-very-long-co-operative-name-that-goes-on-and-on-for-sixty-four-chars"


def mailing_newsletter(member: Member) -> Newsletter:
    with session_scope() as session:
        mailing = mailings.create(session, member=session.get(Member, member.id), subject="Hi")
        first = mailings.blocks(session, mailing)[0]
        mailings.update(session, mailing=mailing, subject="Hi", bodies={first.id: "Hello."})
        issue = session.get(Issue, mailing.issue_id)
        return session.get(Newsletter, issue.newsletter_id)


def test_two_members_with_one_long_prefix_keep_their_own_newsletters():
    first = make_member(f"{LONG}-north")
    second = make_member(f"{LONG}-south")
    mine, theirs = mailing_newsletter(first), mailing_newsletter(second)
    assert mine.id != theirs.id
    assert (mine.member_id, theirs.member_id) == (first.id, second.id)
    assert mailing_newsletter(first).id == mine.id  # found again by the member's id
    with session_scope() as session:
        assert len(session.exec(select(Newsletter)).all()) == 2


def test_member_mailings_are_not_in_the_public_archive(client):
    club = make_newsletter("commons", topics=[make_topic("food")])
    club_issue = make_issue(club, subject="Club news")
    mark_sent(club_issue)
    member = make_member("riverside")
    owned_topic("riverside-news", member)
    own = mailing_newsletter(member)
    with session_scope() as session:
        issue = session.exec(select(Issue).where(Issue.newsletter_id == own.id)).one()
    mark_sent(issue)
    index = client.get("/archive").text
    assert "commons" in index and own.slug not in index and own.name not in index
    assert client.get(f"/archive/{own.slug}").status_code == 404
    assert client.get(f"/archive/{own.slug}/feed.atom").status_code == 404
    web = client.get(f"/archive/{own.slug}/{issue.number}")
    assert web.status_code == 200
    assert web.headers["x-robots-tag"] == "noindex"
    assert '<meta name="robots" content="noindex">' in web.text
    club_web = client.get(f"/archive/commons/{club_issue.number}")
    assert club_web.status_code == 200 and "noindex" not in club_web.text


def test_the_member_and_the_approver_see_the_mailing_as_readers_will(client):
    member = make_member("riverside", name="Riverside Bakery")
    owner = make_account("owner@riverside.example.org", member=member)
    person(
        "reader@example.org", [owned_topic("riverside-news", member)], sharing=False, member=member
    )
    with session_scope() as session:
        mailing = mailings.create(session, member=session.get(Member, member.id), subject="Hi")
        first = mailings.blocks(session, mailing)[0]
        mailings.update(
            session, mailing=mailing, subject="Rye news", bodies={first.id: "Fresh *rye*."}
        )
    log_in(client, owner)
    page = client.get(f"/member/mailings/{mailing.id}").text
    src = re.search(r'class="preview-frame"[^>]* sandbox src="([^"]+)"', page).group(1)
    mine = client.get(src)
    assert mine.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<em>rye</em>" in mine.text and "*rye*" not in mine.text
    client.post("/logout")
    client.cookies.clear()
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    assert f"/admin/mailings/{mailing.id}/preview.html" not in client.get("/admin/mailings").text
    with session_scope() as session:
        mailings.submit(session, mailing=session.get(type(mailing), mailing.id))
    queue = client.get("/admin/mailings").text
    assert f'sandbox src="/admin/mailings/{mailing.id}/preview.html"' in queue
    assert "<pre>" not in queue
    # The same mailing; only links signed with the time may differ between two renders.
    signed = re.compile(r"c1\.[A-Za-z0-9_.~-]+")
    theirs = client.get(f"/admin/mailings/{mailing.id}/preview.html").text
    assert signed.sub("c1.…", theirs) == signed.sub("c1.…", mine.text)
