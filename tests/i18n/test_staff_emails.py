"""Staff emails (member status, staff invitations, admin alerts, booking updates) go out
in the Club's language: subject and body alike, with the stored codes (a role) named in
words. Here the Club speaks French."""

from __future__ import annotations

import pytest

from app import i18n
from app.db import session_scope
from app.members import invitations, service
from app.members.models import Account, Member, MemberStatus, Role
from tests.members.factories import make_account, make_member


@pytest.fixture
def club_speaks_french(monkeypatch):
    monkeypatch.setattr(i18n, "default_language", lambda: "fr")


def test_member_status_invitation_and_alert_in_the_clubs_language(
    club_speaks_french, smtp, run_jobs
):
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

    run_jobs()  # the mail as it arrived (a sent row keeps no body)
    (status,) = smtp.wait_for("owner@riverside.example.org")
    assert status.message["Subject"] == (
        "L’adhésion de votre coopérative au Co-op Data Club est suspendue"
    )
    assert "est suspendue" in status.text()
    (invitation,) = smtp.wait_for("new@riverside.example.org")
    assert invitation.message["Subject"].startswith(
        "Vous êtes invité·e dans l’équipe d’une coopérative"
    )
    assert "avec le rôle membre du personnel" in invitation.text()
    (alert,) = smtp.wait_for("admin@club.example.org")
    assert alert.message["Subject"] == "Envoi en pause : Printemps"
