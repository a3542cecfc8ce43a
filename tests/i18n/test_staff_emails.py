"""Staff emails (member status, staff invitations, admin alerts, booking updates) go out
in the Club's language: subject and body alike, with the stored codes (a role) named in
words. Here the Club speaks French."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import i18n
from app.db import session_scope
from app.mailing.models import TransactionalEmail
from app.members import invitations, service
from app.members.models import Account, Member, MemberStatus, Role
from tests.members.factories import make_account, make_member


@pytest.fixture
def club_speaks_french(monkeypatch):
    monkeypatch.setattr(i18n, "default_language", lambda: "fr")


def _mail(kind: str) -> TransactionalEmail:
    with session_scope() as session:
        return session.exec(select(TransactionalEmail).where(TransactionalEmail.kind == kind)).one()


def test_member_status_invitation_and_alert_in_the_clubs_language(club_speaks_french):
    member = make_member("riverside", status=MemberStatus.active)
    owner = make_account("owner@riverside.example.org", role=Role.owner, member=member)
    make_account("admin@club.example.org", role=Role.admin)
    with session_scope() as session:
        row = session.get(Member, member.id)
        invitations.invite(
            session,
            member=row,
            invited_by=session.get(Account, owner.id),
            email="new@riverside.example.org",
            role=Role.staff,
        )
        service.set_status(session, member=row, status=MemberStatus.suspended)
        service.alert_admins(
            session,
            subject=i18n.lazy_gettext("Sending paused: %(subject)s", subject="Printemps"),
            message="…",
        )

    status = _mail("member-status")
    assert status.subject == "L’adhésion de votre coopérative au Co-op Data Club est suspendue"
    assert "est suspendue" in status.text
    invitation = _mail("staff-invitation")
    assert invitation.subject.startswith("Vous êtes invité·e dans l’équipe d’une coopérative")
    assert "avec le rôle membre du personnel" in invitation.text
    alert = _mail("admin-alert")
    assert alert.subject == "Envoi en pause : Printemps"
