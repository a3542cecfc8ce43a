"""Member mailings through the send pipeline: sharing consent decides who of a shared
audience receives them, a withdrawal before assembly removes the person, the member is
the visible sender from the Club's address, and the Club's links withdraw sharing."""

import re
from email.utils import parseaddr

import pytest

from app.config import get_settings
from app.db import session_scope
from app.sharing import mailings
from app.sharing.models import MemberMailing
from tests.members.factories import log_in, make_account, make_member, post_form
from tests.sharing.helpers import agreement, approve, owned_topic, person, submitted_mailing


def mailing_mail(smtp):
    return [m for m in smtp.messages if m.message["List-Id"]]


@pytest.fixture
def shared(run_jobs, smtp):
    offering, receiving = make_member("orchard-coop"), make_member("bakery-coop")
    orchard_news = owned_topic("orchard-news", offering)
    bakery_news = owned_topic("bakery-news", receiving)
    person("consents@example.org", [orchard_news], sharing=True)
    person("no-sharing@example.org", [orchard_news], sharing=False)
    person("own@example.org", [bakery_news], sharing=False)
    agreement(offering, receiving, orchard_news)
    run_jobs()
    smtp.clear()
    return {"offering": offering, "receiving": receiving}


def test_only_people_who_consented_to_sharing_receive_the_receivers_mailing(shared, smtp, run_jobs):
    approve(submitted_mailing(shared["receiving"]))
    run_jobs()
    received = sorted(r for m in mailing_mail(smtp) for r in m.rcpt_tos)
    assert received == ["consents@example.org", "own@example.org"]
    (message,) = smtp.to("consents@example.org")
    name, address = parseaddr(message.message["From"])
    assert name == "Bakery Coop"
    assert address == parseaddr(get_settings().mail_from)[1]  # the Club's, never the member's
    (unsubscribe,) = message.message.get_all("List-Unsubscribe")
    assert "/sharing/stop/" in unsubscribe
    (own,) = smtp.to("own@example.org")
    assert "/u/" in own.message["List-Unsubscribe"]


def test_a_withdrawal_before_the_next_assembly_removes_the_person(shared, smtp, run_jobs, client):
    approve(submitted_mailing(shared["receiving"], "First"))
    run_jobs()
    (message,) = smtp.to("consents@example.org")
    url = re.search(r"<(http[^>]+)>", message.message["List-Unsubscribe"]).group(1)
    path = url.removeprefix("http://testserver")
    page = client.get(path)
    assert "Bakery Coop" in page.text and "all member co-ops" in page.text
    assert client.post(path).status_code == 200  # RFC 8058 one-click
    smtp.clear()
    approve(submitted_mailing(shared["receiving"], "Second"))
    run_jobs()
    received = sorted(r for m in mailing_mail(smtp) for r in m.rcpt_tos)
    assert received == ["own@example.org"]


def test_withdrawing_from_all_members_in_the_preference_centre(shared, smtp, run_jobs, client):
    from app.subscribers.models import Subscriber
    from app.subscribers.service import preferences_url

    with session_scope() as session:
        from sqlmodel import select

        who = session.exec(
            select(Subscriber).where(Subscriber.email == "consents@example.org")
        ).one()
        url = preferences_url(who).removeprefix("http://testserver")
    page = client.get(url)
    assert "Bakery Coop" in page.text  # listed by name
    assert "Orchard Coop" not in page.text.split("may write to you")[1]
    token = url.rsplit("/", 1)[1]
    done = post_form(client, f"/sharing/stop-all/{token}")
    assert done.status_code == 200
    assert "Bakery Coop" not in client.get(url).text
    approve(submitted_mailing(shared["receiving"]))
    run_jobs()
    assert sorted(r for m in mailing_mail(smtp) for r in m.rcpt_tos) == ["own@example.org"]


def test_a_revoked_agreement_shares_nobody(shared, smtp, run_jobs):
    from sqlmodel import select

    from app.sharing import service
    from app.sharing.models import SharingAgreement

    with session_scope() as session:
        made = session.exec(select(SharingAgreement)).one()
        service.revoke(session, agreement=made, member_id=shared["offering"].id)
    approve(submitted_mailing(shared["receiving"]))
    run_jobs()
    assert sorted(r for m in mailing_mail(smtp) for r in m.rcpt_tos) == ["own@example.org"]


def test_a_mailing_to_nobody_is_refused_with_422(client, run_jobs):
    lonely = make_member("lonely-coop")
    owner = make_account("owner@lonely.example.org", member=lonely)
    log_in(client, owner)
    with session_scope() as session:
        from app.members.models import Member

        mailing = mailings.create(session, member=session.get(Member, lonely.id), subject="Hi")
        mailing_id = mailing.id
        body_id = mailings.blocks(session, mailing)[0].id
    response = post_form(
        client,
        f"/member/mailings/{mailing_id}/submit",
        {"subject": "Hi", f"body-{body_id}": "Hello"},
    )
    assert response.status_code == 422
    assert "nobody would receive" in response.text
    with session_scope() as session:
        assert session.get(MemberMailing, mailing_id).status == "draft"


def test_admins_approve_member_mailings_from_their_page(shared, client, smtp, run_jobs):
    from app.members.models import Role

    mailing = submitted_mailing(shared["receiving"])
    admin = make_account("admin@club.example.org", role=Role.admin)
    log_in(client, admin)
    page = client.get("/admin/mailings")
    assert "News from us" in page.text and "Bakery Coop" in page.text
    assert "2 people" in page.text  # a count, never addresses
    assert "consents@example.org" not in page.text
    done = post_form(client, f"/admin/mailings/{mailing.id}/approve", follow_redirects=False)
    assert done.status_code == 303
    run_jobs()
    assert len(mailing_mail(smtp)) == 2
