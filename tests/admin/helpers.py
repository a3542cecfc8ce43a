"""Shared steps for the admin tests: an admin logged in, confirmed readers."""

from sqlmodel import select

from app.db import session_scope
from app.members.models import Role
from app.subscribers.models import Subscriber
from tests.members.factories import log_in, make_account
from tests.subscribers.helpers import confirm_from_mail


def as_admin(client, email: str = "admin@club.example.org"):
    account = make_account(email, role=Role.admin)
    log_in(client, account)
    return account


def reader(client, smtp, run_jobs, email: str, topics: list[str]) -> int:
    """Someone who signed up through the API and confirmed from the email; their id."""
    response = client.post("/api/v1/subscribe", json={"email": email, "topics": topics})
    assert response.status_code == 202, response.text
    confirm_from_mail(client, smtp, email, run_jobs)
    smtp.clear()
    with session_scope() as session:
        return session.exec(select(Subscriber.id).where(Subscriber.email == email)).one()
