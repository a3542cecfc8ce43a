"""Applying is double opt-in: /apply answers the same for every owner address (a new one,
one with an active account, a closed one), after the same statements, and makes nothing
but an intake row; the emailed link's Confirm button makes the member and its owner;
a link used twice, expired or tampered with says so."""

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlmodel import select

from app.db import session_scope, utcnow
from app.members import applications
from app.members.models import Account, Member, MemberStatus, PendingApplication, Role
from tests.members.factories import csrf, make_account, make_member
from tests.members.test_applications import (
    APPLICATION,
    apply,
    apply_and_confirm,
    confirm_link_in,
    token_of,
)
from tests.subscribers.test_same_answer import forget_rate_limits, observing

CSRF_VALUE = re.compile(r'value="[^"]{20,}"')


def _answer_shape(text: str) -> str:
    return CSRF_VALUE.sub('value=""', text)


def closed_account(email: str) -> None:
    """An account removed from a team (or whose application was declined)."""
    with session_scope() as session:
        session.add(Account(email=email, role=Role.staff, member_id=None, active=False))


def _confirm(client, link: str):
    return client.post("/apply/confirm", data={"csrf_token": csrf(client), "token": token_of(link)})


def test_the_answer_and_its_statements_are_the_same_whatever_the_address(
    client, smtp, run_jobs, worker
):
    member = make_member("riverside-food")
    make_account("owner@riverside.example.org", member=member)
    closed_account("closed@example.org")
    answers, statements = {}, {}
    for address in ("new@example.org", "owner@riverside.example.org", "closed@example.org"):
        forget_rate_limits()
        token = csrf(client)
        data = {**APPLICATION, "owner_email": address, "csrf_token": token}
        with observing(worker) as observed:
            answer = client.post("/apply", data=data)
        assert answer.status_code == 202
        answers[address] = _answer_shape(answer.text)
        statements[address] = observed.statements
        assert observed.jobs == [("transactional", "process_intake")]
    assert "Check your inbox: we sent a link to confirm your application." in unescape(
        answers["new@example.org"]
    )
    assert answers["new@example.org"] == answers["owner@riverside.example.org"]
    assert answers["new@example.org"] == answers["closed@example.org"]
    assert statements["new@example.org"] == statements["owner@riverside.example.org"]
    assert statements["new@example.org"] == statements["closed@example.org"]

    run_jobs()
    (taken,) = smtp.wait_for("owner@riverside.example.org")
    assert "already has a login on the Club" in taken.text()
    assert "/apply/confirm" not in taken.text()  # no link: the account is never moved
    (closed,) = smtp.wait_for("closed@example.org")
    assert "/apply/confirm?token=" in closed.text()


def test_nothing_is_made_before_confirmation(client, smtp, run_jobs):
    assert apply(client).status_code == 202
    with session_scope() as session:
        assert session.exec(select(Member)).all() == []
        assert session.exec(select(Account)).all() == []
    run_jobs()
    (mail,) = smtp.wait_for("ada@harbour.example.org")
    assert "Confirm" in mail.message["Subject"]
    link = confirm_link_in(mail)
    page = client.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "Confirm the application" in page.text
    with session_scope() as session:
        assert session.exec(select(Member)).all() == []
        assert session.exec(select(Account)).all() == []
        (pending,) = session.exec(select(PendingApplication)).all()
        assert pending.email == "ada@harbour.example.org"


def test_confirming_makes_the_member_and_its_owner_once(client, smtp, run_jobs):
    applied = apply_and_confirm(client, smtp, run_jobs)
    assert applied.status_code == 201 and "Your application is in" in applied.text
    with session_scope() as session:
        member = session.exec(select(Member)).one()
        owner = session.exec(select(Account)).one()
        assert session.exec(select(PendingApplication)).all() == []
    assert (member.slug, member.status) == ("harbour-bakery", MemberStatus.applied)
    assert (owner.email, owner.role, owner.member_id, owner.display_name) == (
        "ada@harbour.example.org",
        Role.owner,
        member.id,
        "Ada Baker",
    )
    link = confirm_link_in(smtp.wait_for("ada@harbour.example.org")[0])
    again = _confirm(client, link)
    assert again.status_code == 400 and "confirmed already" in again.text
    assert client.get(link).status_code == 400
    with session_scope() as session:
        assert len(session.exec(select(Member)).all()) == 1


def test_a_closed_account_is_reopened_as_the_new_owner(client, smtp, run_jobs):
    closed_account("ada@harbour.example.org")
    assert apply_and_confirm(client, smtp, run_jobs).status_code == 201
    with session_scope() as session:
        owner = session.exec(select(Account)).one()
        member = session.exec(select(Member)).one()
    assert (owner.active, owner.role, owner.member_id) == (True, Role.owner, member.id)


def test_an_account_made_meanwhile_is_not_moved(client, smtp, run_jobs):
    apply(client)
    run_jobs()
    link = confirm_link_in(smtp.wait_for("ada@harbour.example.org")[0])
    other = make_member("riverside-food")
    make_account("ada@harbour.example.org", member=other)
    refused = _confirm(client, link)
    assert refused.status_code == 400 and "already has a login" in unescape(refused.text)
    with session_scope() as session:
        assert session.exec(select(Account)).one().member_id == other.id
        assert len(session.exec(select(Member)).all()) == 1


def test_a_web_address_taken_meanwhile_asks_to_apply_again(client, smtp, run_jobs):
    apply(client)
    run_jobs()
    link = confirm_link_in(smtp.wait_for("ada@harbour.example.org")[0])
    make_member("harbour-bakery")
    refused = _confirm(client, link)
    assert refused.status_code == 400 and "took the web address harbour-bakery" in refused.text
    with session_scope() as session:
        assert session.exec(select(Account)).all() == []


@pytest.mark.parametrize("damage", ["tampered", "expired", "missing"])
def test_a_broken_link_says_so(client, smtp, run_jobs, damage):
    apply(client)
    run_jobs()
    link = confirm_link_in(smtp.wait_for("ada@harbour.example.org")[0])
    if damage == "tampered":
        link = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
        expected = "not valid"
    elif damage == "missing":
        link = "/apply/confirm?token="
        expected = "not valid"
    else:
        with session_scope() as session:
            pending = session.exec(select(PendingApplication)).one()
            pending.expires_at = utcnow() - timedelta(seconds=1)
            session.add(pending)
        expected = "expired"
    page = client.get(link)
    assert page.status_code == 400 and expected in page.text
    assert _confirm(client, link).status_code == 400
    with session_scope() as session:
        assert session.exec(select(Member)).all() == []


def test_an_old_link_has_expired_and_the_sweep_forgets_it(client, smtp, run_jobs, monkeypatch):
    apply(client)
    run_jobs()
    link = confirm_link_in(smtp.wait_for("ada@harbour.example.org")[0])
    monkeypatch.setattr(applications, "LIFETIME", timedelta(seconds=-1))
    page = client.get(link)
    assert page.status_code == 400 and "expired" in page.text
    with session_scope() as session:
        pending = session.exec(select(PendingApplication)).one()
        pending.expires_at = utcnow() - timedelta(seconds=1)
        session.add(pending)
    with session_scope() as session:
        applications.sweep_expired(session)
    with session_scope() as session:
        assert session.exec(select(PendingApplication)).all() == []


def test_the_form_is_rate_limited(client, monkeypatch):
    from app.config import get_settings

    monkeypatch.setattr(get_settings(), "signup_limit_per_address", 2)
    answers = [apply(client).status_code for _ in range(3)]
    assert answers == [202, 202, 429]


def test_the_mail_and_pages_speak_the_page_language(client, smtp, run_jobs):
    client.cookies.set("coopclub_lang", "fr")
    answer = apply(client)
    assert '<html lang="fr">' in answer.text
    run_jobs()
    (mail,) = smtp.wait_for("ada@harbour.example.org")
    assert "candidature" in mail.message["Subject"].lower()
    assert "Confirmer" in mail.text() or "confirm" in mail.text().lower()
