"""The subscriber's side: the unsubscribe link of a member mailing, which withdraws
sharing with that member (RFC 8058 one-click on POST), with "from all members" offered
too; the preference centre posts here to withdraw from one member or from all.
Withdrawing goes through the consent ledger."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from app import signing
from app.consent.models import ConsentAction, ConsentScope, ConsentSource
from app.consent.service import record_consent, token_digest
from app.db import SessionDep
from app.i18n import gettext, lazy_gettext
from app.members.models import Member
from app.sharing.models import SharingWithdrawal
from app.subscribers import preferences
from app.subscribers.link_pages import speaks
from app.subscribers.models import Subscriber
from app.subscribers.service import lock_subscriber, subscriber_from_preferences_token
from app.web import CsrfProtected, redirect, render

router = APIRouter(include_in_schema=False)


def withdraw_from_member(
    session: Session, *, subscriber: Subscriber, member: Member, token: str | None
) -> bool:
    """Stop sharing this person with one member (idempotent: False on a repeat). The
    person's row is locked before looking, so presses at once record one withdrawal."""
    lock_subscriber(session, subscriber.id or 0)
    existing = session.exec(
        select(SharingWithdrawal).where(
            SharingWithdrawal.subscriber_id == subscriber.id,
            SharingWithdrawal.member_id == member.id,
        )
    ).first()
    if existing is not None:
        return False
    record_consent(
        session,
        subscriber=subscriber,
        scope=ConsentScope.sharing,
        action=ConsentAction.withdrawn,
        source=ConsentSource.form,
        consent_text=None,
        token_digest=token_digest(token) if token else None,
        member=member,
    )
    session.add(SharingWithdrawal(subscriber_id=subscriber.id or 0, member_id=member.id or 0))
    session.flush()
    return True


def _resolve(session, token: str, request: Request):  # type: ignore[no-untyped-def]
    try:
        subscriber = subscriber_from_preferences_token(session, token)
    except signing.InvalidToken as exc:
        return None, exc
    speaks(request, subscriber)  # a page reached from their email: their language
    return subscriber, None


def _bad_link(request: Request) -> Response:
    return render(
        request,
        "public/link_problem.html",
        status_code=400,
        reason=lazy_gettext(
            "This link is not valid. It may have been cut short when it was copied."
        ),
    )


@router.get("/sharing/stop/{member_id}/{token}", response_class=HTMLResponse)
def stop_page(request: Request, member_id: int, token: str, session: SessionDep) -> Response:
    subscriber, problem = _resolve(session, token, request)
    if problem is not None:
        return _bad_link(request)
    member = session.get(Member, member_id)
    return render(
        request,
        "sharing/stop.html",
        member=member,
        token=token,
        done=False,
        gone=subscriber is None,
    )


@router.post("/sharing/stop/{member_id}/{token}", response_class=HTMLResponse)
def stop_one_click(request: Request, member_id: int, token: str, session: SessionDep) -> Response:
    """One-click: the signed link is the authority (no CSRF), harmless to repeat."""
    subscriber, problem = _resolve(session, token, request)
    if problem is not None:
        return _bad_link(request)
    member = session.get(Member, member_id)
    if subscriber is not None and member is not None:
        withdraw_from_member(session, subscriber=subscriber, member=member, token=token)
    return render(request, "sharing/stop.html", member=member, token=token, done=True, gone=False)


@router.post("/sharing/stop-all/{token}", response_class=HTMLResponse, dependencies=[CsrfProtected])
def stop_all(request: Request, token: str, session: SessionDep) -> Response:
    subscriber, problem = _resolve(session, token, request)
    if problem is not None:
        return _bad_link(request)
    if subscriber is not None:
        preferences.withdraw_all_sharing(session, subscriber=subscriber, token=token)
    return render(request, "sharing/stop.html", member=None, token=token, done=True, gone=False)


@router.post("/preferences/{token}/sharing/{member_id}", dependencies=[CsrfProtected])
def preferences_withdraw(
    request: Request, token: str, member_id: int, session: SessionDep
) -> Response:
    subscriber, problem = _resolve(session, token, request)
    if problem is not None:
        # As the preference centre's own form does: a forged or wrong-kind link is a 400.
        return _bad_link(request)
    member = session.get(Member, member_id)
    if subscriber is not None and member is not None:
        withdraw_from_member(session, subscriber=subscriber, member=member, token=token)
        return redirect(
            f"/preferences/{token}",
            gettext("%(member)s will no longer write to you.", member=member.name),
        )
    return redirect(f"/preferences/{token}", gettext("That link no longer works."), kind="error")
