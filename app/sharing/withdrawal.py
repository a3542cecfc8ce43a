"""The subscriber's side: the unsubscribe link of a member mailing, which withdraws
sharing with that member (RFC 8058 one-click on POST), with "from all members" offered
too; the preference centre posts here to withdraw from one member or from all."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app import signing
from app.db import SessionDep
from app.members.models import Member
from app.sharing import service
from app.subscribers import preferences
from app.subscribers.service import subscriber_from_preferences_token
from app.web import CsrfProtected, redirect, render

router = APIRouter(include_in_schema=False)


def _resolve(session, token: str):  # type: ignore[no-untyped-def]
    try:
        return subscriber_from_preferences_token(session, token), None
    except signing.InvalidToken as exc:
        return None, exc


@router.get("/sharing/stop/{member_id}/{token}", response_class=HTMLResponse)
def stop_page(request: Request, member_id: int, token: str, session: SessionDep) -> Response:
    subscriber, problem = _resolve(session, token)
    if problem is not None:
        return render(request, "public/link_problem.html", status_code=400, reason=str(problem))
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
    subscriber, problem = _resolve(session, token)
    if problem is not None:
        return render(request, "public/link_problem.html", status_code=400, reason=str(problem))
    member = session.get(Member, member_id)
    if subscriber is not None and member is not None:
        service.withdraw_from_member(session, subscriber=subscriber, member=member, token=token)
    return render(request, "sharing/stop.html", member=member, token=token, done=True, gone=False)


@router.post("/sharing/stop-all/{token}", response_class=HTMLResponse, dependencies=[CsrfProtected])
def stop_all(request: Request, token: str, session: SessionDep) -> Response:
    subscriber, problem = _resolve(session, token)
    if problem is not None:
        return render(request, "public/link_problem.html", status_code=400, reason=str(problem))
    if subscriber is not None:
        preferences.withdraw_all_sharing(session, subscriber=subscriber, token=token)
    return render(request, "sharing/stop.html", member=None, token=token, done=True, gone=False)


@router.post("/preferences/{token}/sharing/{member_id}", dependencies=[CsrfProtected])
def preferences_withdraw(
    request: Request, token: str, member_id: int, session: SessionDep
) -> Response:
    subscriber, problem = _resolve(session, token)
    if problem is not None:
        # As the preference centre's own form does: a forged or wrong-kind link is a 400.
        return render(request, "public/link_problem.html", status_code=400, reason=str(problem))
    member = session.get(Member, member_id)
    if subscriber is not None and member is not None:
        service.withdraw_from_member(session, subscriber=subscriber, member=member, token=token)
        return redirect(f"/preferences/{token}", f"{member.name} will no longer write to you.")
    return redirect(f"/preferences/{token}", "That link no longer works.", kind="error")
