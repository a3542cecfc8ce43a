"""Applying to join, double opt-in: nothing is made for an address nobody has confirmed.

`POST /apply` checks the fields (a taken web address is said: slugs are public), then
records the request with `app.intake` and answers "check your inbox" whatever state the
owner address is in, after the same work. The job decides what to mail, in the page's
language:

- an address with no account, or a closed one (removed from a team, a declined
  application): a `PendingApplication` (the form as typed, not a member, not an account)
  and a link to confirm it;
- an address with an active account (on a co-op's team, or a Club admin): a message
  saying so in plain words (log in with it; to apply for another co-op, use another
  address), and no link: an account is never moved to another co-op.

The link opens a page with a Confirm button (mail scanners open links: nothing happens on
GET); pressing it does what `service.apply` does (the Member, status applied, and its
owner's Account; a closed account is reopened) and deletes the pending row. Checked again
then, as the owner would expect: if the address got an active account meanwhile (another
application confirmed first, an invitation accepted) it is refused, not moved; web
addresses are not held while pending, so the first co-op to confirm one gets it and the
other is asked to apply again. A link works once, for `LIFETIME`; expired rows are swept.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, delete, select

from app import intake, signing
from app.config import get_settings
from app.db import utcnow
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.jobs import register_sweep
from app.mailing.service import queue_transactional
from app.members import service
from app.members.forms import validate
from app.members.models import Account, Member, PendingApplication
from app.members.schemas import MemberApplication

LIFETIME = timedelta(days=2)
# Subjects are the Club's words only; the co-op's name (typed by anyone) is in the body.
_CONFIRM = lazy_gettext("Confirm your application to Co-op Data Club")
_ACCOUNT_EXISTS = lazy_gettext("Your application to Co-op Data Club")


class ApplicationLinkRefused(Exception):
    """The link is not valid, has expired, was used, or can no longer be confirmed."""


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def accept(session: Session, *, values: dict[str, Any], language: str | None) -> None:
    """Record a checked application; the job mails the owner address (`_do_apply`). The
    same insert whatever the address's state, so neither answer nor timing tells."""
    intake.accept(session, "apply", {"form": values, "language": language})


@intake.register_handler("apply")
def _do_apply(session: Session, payload: dict[str, Any]) -> None:
    values, language = payload["form"], payload.get("language")
    application, _errors = validate(MemberApplication, values)
    if application is None:  # checked by the form; nothing to send if it no longer is
        return
    email = service.normalise_email(application.owner_email, field="owner_email")
    account = service.account_by_email(session, email=email)
    if account is not None and account.active:
        subject, template, link = _ACCOUNT_EXISTS, "application_account_exists", ""
    else:
        nonce = secrets.token_urlsafe(24)
        pending = PendingApplication(
            nonce_hash=_digest(nonce),
            email=email,
            language=language,
            form=json.dumps(values, separators=(",", ":")),
            expires_at=utcnow() + LIFETIME,
        )
        session.add(pending)
        session.flush()
        token = signing.sign(signing.Purpose.application, {"p": pending.id, "n": nonce})
        subject, template = _CONFIRM, "confirm_application"
        link = f"{get_settings().base_url}/apply/confirm?token={token}"
    queue_transactional(
        session,
        kind="application",
        to=email,
        subject=subject,
        template=template,
        language=language,
        member_name=application.name,
        link=link,
        days=LIFETIME.days,
    )


def read(session: Session, *, token: str) -> tuple[PendingApplication, MemberApplication]:
    """The pending application behind a link, without using it up."""
    try:
        payload = signing.unsign(
            signing.Purpose.application, token, max_age=int(LIFETIME.total_seconds())
        )
        pending_id, nonce = int(payload["p"]), str(payload["n"])
    except signing.ExpiredToken:
        raise ApplicationLinkRefused(
            _("This link has expired: nothing was saved. Please apply again.")
        ) from None
    except (signing.InvalidToken, KeyError, TypeError, ValueError):
        raise ApplicationLinkRefused(
            _("This link is not valid: check that it was copied whole, or apply again.")
        ) from None
    pending = session.get(PendingApplication, pending_id)
    if pending is None:  # a genuine link within its lifetime: confirmed already
        raise ApplicationLinkRefused(
            _("This application was confirmed already: log in with your address to see it.")
        )
    if pending.nonce_hash != _digest(nonce):
        raise ApplicationLinkRefused(
            _("This link is not valid: check that it was copied whole, or apply again.")
        )
    if pending.expires_at <= utcnow():
        raise ApplicationLinkRefused(
            _("This link has expired: nothing was saved. Please apply again.")
        )
    application, _errors = validate(MemberApplication, json.loads(pending.form))
    if application is None:
        raise ApplicationLinkRefused(_("This application can no longer be confirmed."))
    return pending, application


def confirm(session: Session, *, token: str) -> tuple[Member, Account]:
    """Confirm: the Member (applied) and its owner, as `service.apply` makes them."""
    pending, application = read(session, token=token)
    # Two presses at once: the second waits here, then finds the row gone.
    locked = session.exec(
        select(PendingApplication)
        .where(PendingApplication.id == pending.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if locked is None:
        raise ApplicationLinkRefused(
            _("This application was confirmed already: log in with your address to see it.")
        )
    try:
        member, owner = service.apply(session, application=application)
    except service.MemberFormError as exc:
        if exc.field == "slug":
            raise ApplicationLinkRefused(
                _(
                    "Another co-op took the web address %(slug)s before you confirmed. "
                    "Please apply again with another one.",
                    slug=application.slug,
                )
            ) from None
        raise ApplicationLinkRefused(
            _(
                "This address already has a login on the Club (on a co-op's team, or as a "
                "Club admin), so no co-op was added. Log in with it, or apply again with "
                "another address."
            )
        ) from None
    session.delete(locked)
    session.flush()
    return member, owner


@register_sweep("pending-applications")
def sweep_expired(session: Session) -> None:
    """Forget unconfirmed applications once their link has expired."""
    session.exec(  # type: ignore[call-overload]
        delete(PendingApplication).where(col(PendingApplication.expires_at) < utcnow())
    )
