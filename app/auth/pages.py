"""Logging in by emailed link, and logging out: /login, /login/link, /logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import ratelimit
from app.auth import service
from app.auth.deps import (
    OptionalAccount,
    clear_session_cookie,
    session_token,
    set_session_cookie,
)
from app.db import SessionDep
from app.i18n import gettext as _
from app.members.models import Account
from app.members.service import MemberFormError, normalise_email
from app.web import CsrfProtected, flash, redirect, render

router = APIRouter(include_in_schema=False)


def home_for(account: Account) -> str:
    return "/admin" if account.is_admin else "/member"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, account: OptionalAccount, next: str | None = None) -> Response:
    if account is not None:
        return redirect(service.safe_next(next) or home_for(account))
    return render(request, "auth/login.html", next=service.safe_next(next) or "", email="")


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfProtected])
def login_request(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        address = normalise_email(email)
    except MemberFormError as exc:
        return render(
            request,
            "auth/login.html",
            status_code=422,
            email=email,
            next=service.safe_next(next) or "",
            error=exc.message,
        )
    client = request.client.host if request.client else "unknown"
    # Over the limit we quietly send nothing: the answer must not differ either way.
    if ratelimit.hit("login-address", address, limit=5, window_seconds=900) and ratelimit.hit(
        "login-client", client, limit=30, window_seconds=900
    ):
        service.accept_login_request(session, email=address, next_path=next)
    return render(request, "auth/check_email.html", email=address)


@router.get("/login/link", response_class=HTMLResponse)
def login_link(request: Request, session: SessionDep, token: str = "") -> Response:
    """Show a button rather than logging in on GET: mail scanners open links too, and
    would otherwise spend the single use before the person clicks."""
    try:
        link = service.read_login_link(session, token=token)
    except service.LoginLinkError as exc:
        return render(request, "auth/link.html", status_code=400, error=str(exc), token="")
    return render(request, "auth/link.html", token=token, email=link.account.email)


@router.post("/login/link", dependencies=[CsrfProtected])
def login_link_use(
    request: Request, session: SessionDep, token: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    try:
        account, session_secret, next_path = service.use_login_link(session, token=token)
    except service.LoginLinkError as exc:
        return render(request, "auth/link.html", status_code=400, error=str(exc), token="")
    response = RedirectResponse(next_path or home_for(account), status_code=303)
    set_session_cookie(response, session_secret)
    flash(response, _("You are logged in as %(email)s.", email=account.email))
    return response


@router.post("/logout", dependencies=[CsrfProtected])
def logout(request: Request, session: SessionDep) -> Response:
    token = session_token(request)
    if token:
        service.end_session(session, token=token)
    response = redirect("/", "You are logged out.")
    clear_session_cookie(response)
    return response
