"""Every kind of message the product sends, made through the product's own paths and
collected from the test SMTP server, for the checks that judge them from outside."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData

from app.config import SigningDomain
from app.db import session_scope
from app.mailing.service import queue_transactional
from app.members import applications, suggestions
from app.members.forms import form_values
from app.members.models import Member, Role
from app.members.pages import APPLY_TEXT_FIELDS
from app.newsletters.models import Issue
from app.sending.test_copy import send_test_copy
from tests.members.factories import make_account, make_member
from tests.members.test_applications import APPLICATION
from tests.newsletters.factories import make_issue, make_newsletter, make_topic, schedule_soon
from tests.sending import factories as people
from tests.sharing.helpers import approve, owned_topic, person, submitted_mailing
from tests.smtp_sink import Received

BASE = "http://testserver"

# (kind, subject, template, context) exactly as the services queue them.
TRANSACTIONAL = [
    (
        "confirm-subscription",
        "Please confirm your subscription",
        "confirm_subscription",
        {"first_name": "Ana", "topic_names": "Food co-ops", "confirm_url": f"{BASE}/confirm/t1"},
    ),
    (
        "repermission",
        "Please confirm you still want our newsletters",
        "repermission",
        {"first_name": "", "topic_names": "Housing", "confirm_url": f"{BASE}/confirm/t2"},
    ),
    (
        "already-subscribed",
        "You are already subscribed",
        "already_subscribed",
        {"first_name": "Ana", "preferences_url": f"{BASE}/preferences/t3"},
    ),
    (
        "login-link",
        "Your Co-op Data Club login link",
        "login_link",
        {"link": f"{BASE}/login/t4", "minutes": 15},
    ),
    (
        "member-status",
        "Riverside Co-op is now a member of the Co-op Data Club",
        "member_status",
        {"member_name": "Riverside Co-op", "status": "active", "approved": True},
    ),
    (
        "staff-invitation",
        "Ana added you to Riverside Co-op on Co-op Data Club",
        "staff_invitation",
        {
            "member_name": "Riverside Co-op",
            "inviter": "Ana",
            "role": "staff",
            "email": "staff@example.org",
            "accept_url": f"{BASE}/invitations/t5",
            "days": 7,
        },
    ),
    (
        "admin-alert",
        "Sending paused: Spring at the co-ops",
        "admin_alert",
        {"message": "1 message in a row was refused. Check the mail server, then resume."},
    ),
    (
        "booking",
        "Your booking is approved",
        "booking_update",
        {
            "message": "Your creative is approved and will appear in the issue.",
            "issue_label": "The Co-op Commons #3: Spring at the co-ops",
            "booking_url": f"{BASE}/member/bookings/1",
        },
    ),
]
# Made by the product's own flows (`start_every_flow`), each to <label>@example.org:
# label -> (kind, template). An application's two answers share the kind "application".
FLOWS = {
    "application": ("application", "confirm_application"),
    "application-account-exists": ("application", "application_account_exists"),
    "directory-suggestion": ("directory-suggestion", "directory_suggestion"),
}
# Written in the asker's language (the others in the Club's: accounts have none).
IN_ASKERS_LANGUAGE = ("application", "application-account-exists")
BULK = ("newsletter", "member-mailing", "issue-test")
BULK_TEMPLATE = "newsletter"


def listed_kinds() -> set[str]:
    return {kind for kind, *_ in TRANSACTIONAL} | {kind for kind, _ in FLOWS.values()} | {*BULK}


def listed_templates() -> set[str]:
    made = {template for _, _, template, _ in TRANSACTIONAL}
    return made | {template for _, template in FLOWS.values()} | {BULK_TEMPLATE}


@dataclass(frozen=True)
class DkimSetup:
    selector: str
    record: bytes

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        assert name.startswith(self.selector.encode() + b"._domainkey.")
        return self.record


def make_key(tmp_path: Path) -> tuple[Path, bytes]:
    """A fresh RSA-2048 private key file and the DKIM record DNS would publish for it."""
    private = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)


def dkim_key(tmp_path: Path, settings, monkeypatch, domains: list[str]) -> DkimSetup:
    """A fresh key that signs for `domains` (COOPCLUB_DKIM_KEYS)."""
    private, record = make_key(tmp_path)
    entries = [
        SigningDomain(domain=domain, selector="club2026", private_key_path=private)
        for domain in domains
    ]
    monkeypatch.setattr(settings, "dkim_keys", entries)
    return DkimSetup("club2026", record)


def queue_every_transactional(language: str | None = None) -> None:
    """Queue one transactional message of each kind, to <kind>@example.org (or
    <kind>-<language>@example.org, written in `language`)."""
    for kind, subject, template, context in TRANSACTIONAL:
        with session_scope() as session:
            queue_transactional(
                session,
                kind=kind,
                to=f"{kind}-{language}@example.org" if language else f"{kind}@example.org",
                subject=subject,
                template=template,
                language=language,
                **context,
            )


def _application_form(owner_email: str) -> dict:
    """What `POST /apply` hands the intake, from the form as a browser sends it."""
    form = {**APPLICATION, "owner_email": owner_email}
    return form_values(FormData(list(form.items())), APPLY_TEXT_FIELDS)


def start_every_flow(language: str | None = None) -> None:
    """Start each of FLOWS as a person would (the jobs then mail them): an application
    from a new address and one from an address with a login, and a suggested correction
    to a listing, which its owner gets. With `language`, only IN_ASKERS_LANGUAGE, to
    <label>-<language>@example.org, applied for from a page in that language."""
    suffix = f"-{language}" if language else ""
    member = make_member(f"riverside{suffix}", name="Riverside Food Co-op", city="Toronto")
    staff = f"application-account-exists{suffix}@example.org"
    make_account(staff, role=Role.staff, member=member)  # on a team: no suggestion mail
    for label in IN_ASKERS_LANGUAGE:
        with session_scope() as session:
            values = _application_form(f"{label}{suffix}@example.org")
            applications.accept(session, values=values, language=language)
    if language:
        return
    make_account("directory-suggestion@example.org", member=member)
    with session_scope() as session:
        suggestions.suggest(
            session,
            member=session.get(Member, member.id),
            field="city",
            value="Mississauga",
            note="They moved to the new market hall in March.",
            from_email="neighbour@example.net",
        )


def every_kind(smtp, run_jobs) -> dict[str, Received]:
    """Send one message of each kind and return them by kind (FLOWS by label)."""
    queue_every_transactional()
    start_every_flow()
    food = make_topic("food", "Food co-ops")
    people.active("newsletter@example.org", [food], first_name="Ana")
    issue = schedule_soon(make_issue(make_newsletter("commons", topics=[food])))
    with session_scope() as session:
        send_test_copy(session, session.get(Issue, issue.id), to="issue-test@example.org")
    run_jobs()
    people.start_now(issue)
    bakery = make_member("bakery-coop")
    person("member-mailing@example.org", [owned_topic("bakery-news", bakery)], sharing=False)
    approve(submitted_mailing(bakery))
    run_jobs()
    kinds = {}
    for kind in [kind for kind, *_ in TRANSACTIONAL] + list(FLOWS):
        (kinds[kind],) = smtp.to(f"{kind}@example.org")
    for kind in BULK:  # these people also had a confirmation when they signed up
        (kinds[kind],) = [m for m in smtp.to(f"{kind}@example.org") if m.message["List-Id"]]
    return kinds
