"""Who is asking, and may they: the one place that decides access.

HTML and JSON routes declare what they need as a parameter type:
`CurrentAccount`, `OptionalAccount`, `RequireAdmin`, `MemberStaff`, `MemberOwner`
(session cookie), and `ApiMember` (an `Authorization: Bearer` member API key). Objects
of a member are looked up through the resolved member, so another member's ids
answer 404 (see members.service.staff_account and auth.service.member_key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from app import signing
from app.auth import service
from app.auth.models import ApiKey
from app.config import get_settings
from app.db import SessionDep, session_scope
from app.members.models import Account, Member, Role

SESSION_COOKIE = "coopclub_session"


class LoginRequired(Exception):
    """An HTML page needs a logged-in account: answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def login_required_response(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)


def set_session_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signing.sign(signing.Purpose.session, token),
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_token(request: Request) -> str | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        token = signing.unsign(
            signing.Purpose.session,
            cookie,
            max_age=int(service.SESSION_LIFETIME.total_seconds()),
        )
    except signing.InvalidToken:
        return None
    return token if isinstance(token, str) else None


@dataclass(frozen=True)
class AccountView:
    """What pages show about the logged-in person. A plain copy, because a page can be
    rendered after the request's transaction rolled back (an error page)."""

    id: int
    email: str
    label: str
    role: Role
    member_id: int | None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @classmethod
    def of(cls, account: Account | None) -> AccountView | None:
        if account is None:
            return None
        return cls(
            id=account.id,  # type: ignore[arg-type]
            email=account.email,
            label=account.label,
            role=account.role,
            member_id=account.member_id,
        )


def optional_account(request: Request, session: SessionDep) -> Account | None:
    token = session_token(request)
    account = service.session_account(session, token=token) if token else None
    request.state.account_view = AccountView.of(account)
    return account


def current_account(
    request: Request, account: Annotated[Account | None, Depends(optional_account)]
) -> Account:
    if account is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(status_code=401, detail="Log in first.")
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(next_path if request.method == "GET" else "/")
    return account


OptionalAccount = Annotated[Account | None, Depends(optional_account)]
CurrentAccount = Annotated[Account, Depends(current_account)]


def require_admin(account: CurrentAccount) -> Account:
    if not account.is_admin:
        raise HTTPException(status_code=403, detail="Only Club admins can open this page.")
    return account


RequireAdmin = Annotated[Account, Depends(require_admin)]


@dataclass(frozen=True)
class MemberContext:
    """A logged-in person acting for their member."""

    account: Account
    member: Member

    @property
    def is_owner(self) -> bool:
        return self.account.role == Role.owner


def member_staff(account: CurrentAccount, session: SessionDep) -> MemberContext:
    if account.member_id is None or account.role not in (Role.owner, Role.staff):
        detail = (
            "Club admins manage co-ops from the admin area."
            if account.is_admin
            else "This account does not act for a member co-op."
        )
        raise HTTPException(status_code=403, detail=detail)
    member = session.get(Member, account.member_id)
    if member is None:
        raise HTTPException(status_code=403, detail="This account does not act for a member co-op.")
    return MemberContext(account=account, member=member)


def member_owner(context: Annotated[MemberContext, Depends(member_staff)]) -> MemberContext:
    if not context.is_owner:
        raise HTTPException(
            status_code=403, detail=f"Only {context.member.name}'s owners can do that."
        )
    return context


MemberStaff = Annotated[MemberContext, Depends(member_staff)]
MemberOwner = Annotated[MemberContext, Depends(member_owner)]


@dataclass(frozen=True)
class MemberPrincipal:
    """A member acting through one of its API keys."""

    member: Member
    key: ApiKey


def api_member(request: Request, session: SessionDep) -> MemberPrincipal:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(
            status_code=401,
            detail="Send your co-op's API key as `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        key, member = service.authenticate_api_key(session, secret=secret.strip())
    except service.ApiKeyRefused as exc:
        raise HTTPException(
            status_code=401,
            detail=str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    return MemberPrincipal(member=member, key=key)


ApiMember = Annotated[MemberPrincipal, Depends(api_member)]


def optional_api_member(request: Request, session: Session) -> MemberPrincipal | None:
    """For a public route that a member may also call with its key (signup attribution):
    None without an `Authorization` header; a key that is sent must be valid (401)."""
    if not request.headers.get("authorization"):
        return None
    return api_member(request, session)


def account_for_template(request: Request) -> AccountView | None:
    """`current_account()` in templates, so every page's navigation knows who is here.
    Every route resolves it first (an app-wide dependency); only a page rendered without
    a route (a 404) reads the cookie here, when no other session is open."""
    if hasattr(request.state, "account_view"):
        return request.state.account_view
    token = session_token(request)
    view = None
    if token:
        with session_scope() as session:
            view = AccountView.of(service.session_account(session, token=token))
    request.state.account_view = view
    return view
