"""Who is asking, and may they: the one place that decides access.

HTML and JSON routes declare what they need as a parameter type:
`CurrentAccount`, `OptionalAccount`, `RequireAdmin`, `MemberStaff`, `MemberOwner`
(session cookie), and `ApiMember` (an `Authorization: Bearer` member API key). Objects
of a member are looked up through the resolved member, so another member's ids
answer 404 (see members.service.staff_account and auth.service.member_key).

What a member's people may do (`ROLE_RIGHTS`; the README's roles table says the same,
and the authorization matrix test holds every route to it):

| right        | what it covers                                                  | owner | staff |
| ------------ | --------------------------------------------------------------- | ----- | ----- |
| `see`        | the dashboard, slots, bookings, reports, credits, mailings       | yes   | yes   |
| `creatives`  | write and submit a paid booking's creative                      | yes   | yes   |
| `drafts`     | create and edit member mailing drafts                           | yes   | yes   |
| `money`      | book slots, pay (credits, invoice, card), cancel bookings       | yes   | no    |
| `mailings`   | submit a member mailing for the Club's review (it is then sent) | yes   | no    |
| `team`       | invite, remove and change the role of people; the profile      | yes   | no    |
| `keys`       | create and revoke API keys (a key acts with an owner's rights)   | yes   | no    |
| `sharing`    | offer, accept and revoke sharing agreements                     | yes   | no    |
| `export`     | download the co-op's own subscribers (personal data) as CSV     | yes   | no    |

`MemberStaff` grants the rights every member account has; `MemberOwner` the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import signing
from app.auth import service
from app.auth.models import ApiKey
from app.config import get_settings
from app.db import SessionDep, session_scope
from app.i18n import gettext as _
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


async def optional_account(request: Request, session: SessionDep) -> Account | None:
    # Every route depends on this: without a session cookie (signups, the API, every
    # visitor) it answers on the event loop, with no hop to a thread.
    token = session_token(request)
    account = (
        await run_in_threadpool(partial(service.session_account, session, token=token))
        if token
        else None
    )
    request.state.account_view = AccountView.of(account)
    return account


def current_account(
    request: Request, account: Annotated[Account | None, Depends(optional_account)]
) -> Account:
    if account is None:
        if request.url.path.startswith("/api/"):
            raise HTTPException(status_code=401, detail=_("Log in first."))
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(next_path if request.method == "GET" else "/")
    return account


OptionalAccount = Annotated[Account | None, Depends(optional_account)]
CurrentAccount = Annotated[Account, Depends(current_account)]


def require_admin(account: CurrentAccount) -> Account:
    if not account.is_admin:
        raise HTTPException(status_code=403, detail=_("Only Club admins can open this page."))
    return account


RequireAdmin = Annotated[Account, Depends(require_admin)]


class Right(StrEnum):
    see = "see"
    creatives = "creatives"
    drafts = "drafts"
    money = "money"
    mailings = "mailings"
    team = "team"
    keys = "keys"
    sharing = "sharing"
    export = "export"


ROLE_RIGHTS: dict[Role, frozenset[Right]] = {
    Role.owner: frozenset(Right),
    Role.staff: frozenset({Right.see, Right.creatives, Right.drafts}),
}
# The rights a route guarded by MemberStaff may use; everything else needs MemberOwner.
STAFF_RIGHTS = ROLE_RIGHTS[Role.staff]


@dataclass(frozen=True)
class MemberContext:
    """A logged-in person acting for their member."""

    account: Account
    member: Member

    @property
    def is_owner(self) -> bool:
        return self.account.role == Role.owner

    def may(self, right: Right) -> bool:
        """For pages: show a button only to those who may press it."""
        return right in ROLE_RIGHTS.get(self.account.role, frozenset())


def member_staff(account: CurrentAccount, session: SessionDep) -> MemberContext:
    if account.member_id is None or account.role not in (Role.owner, Role.staff):
        detail = (
            _("Club admins manage co-ops from the admin area.")
            if account.is_admin
            else _("This account does not act for a member co-op.")
        )
        raise HTTPException(status_code=403, detail=detail)
    member = session.get(Member, account.member_id)
    if member is None:
        raise HTTPException(
            status_code=403, detail=_("This account does not act for a member co-op.")
        )
    return MemberContext(account=account, member=member)


def member_owner(context: Annotated[MemberContext, Depends(member_staff)]) -> MemberContext:
    """Rights beyond STAFF_RIGHTS (money, mailings, team, keys, sharing): owners only."""
    if not ROLE_RIGHTS.get(context.account.role, frozenset()) > STAFF_RIGHTS:
        raise HTTPException(
            status_code=403,
            detail=_(
                "Only %(member)s's owners can do that (money, team, API keys, sharing and"
                " sending mailings); staff write creatives and mailing drafts.",
                member=context.member.name,
            ),
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
    scheme, _sep, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(
            status_code=401,
            detail=_("Send your co-op's API key as `Authorization: Bearer <key>`."),
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
