"""Public member pages: the directory (/members), a member's page, and applying to join."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import i18n
from app.auth import service as auth_service
from app.auth.deps import set_session_cookie
from app.db import SessionDep
from app.i18n import gettext as _
from app.members import (
    applications,
    codes,
    directory,
    directory_embed,
    invitations,
    open_data,
    service,
    suggestions,
)
from app.members.forms import (
    FIELD_LABELS,
    PROFILE_TEXT_FIELDS,
    FormDep,
    form_values,
    profile_choices,
    validate,
)
from app.members.labels import LABELS
from app.members.models import Member
from app.members.schemas import MemberApplication, MemberPublic
from app.subscribers import abuse
from app.web import CsrfProtected, flash, redirect, render

router = APIRouter(include_in_schema=False)

APPLY_TEXT_FIELDS = (*PROFILE_TEXT_FIELDS, "slug", "owner_email", "owner_name")


@router.get("/members", response_class=HTMLResponse)
def directory_page(
    request: Request,
    session: SessionDep,
    q: str = "",
    kind: str = "",
    sector: str = "",
    country: str = "",
    region: str = "",
    language: str = "",
    sort: str = "name",
    cursor: str = "",
) -> Response:
    return _directory(
        request,
        session,
        "members/directory.html",
        q=q,
        kind=kind,
        sector=sector,
        country=country,
        region=region,
        language=language,
        sort=sort,
        cursor=cursor,
    )


def _directory(
    request: Request,
    session: SessionDep,
    template: str,
    *,
    cursor: str,
    extra: dict[str, object] | None = None,
    **raw: str,
) -> Response:
    """The directory page (and its embeddable twin): problems in the form, status 400."""
    query = directory.DirectoryQuery.read(**raw)
    members: Sequence[Member] = []
    next_cursor = None
    problems = dict(query.problems)
    if not problems:
        try:
            members, next_cursor = directory.page(session, query, cursor=cursor or None)
        except directory.DirectoryQueryError as exc:
            problems[exc.field] = exc.message
    return render(
        request,
        template,
        status_code=400 if problems else 200,
        members=[MemberPublic.of(m) for m in members],
        query=query,
        raw=raw,
        problems=problems,
        facets=directory.facets(session, query),
        next_cursor=next_cursor,
        first_page=not cursor,
        licence=open_data.licence(),
        labels=LABELS,
        **(extra or {}),
    )


@router.get("/members/embed", response_class=HTMLResponse)
def embed_maker(
    request: Request,
    session: SessionDep,
    kind: str = "",
    sector: str = "",
    country: str = "",
    region: str = "",
    language: str = "",
    sort: str = "name",
    lang: str = "",
) -> Response:
    """Choose the filters and the directory's language, get the snippet and a preview."""
    raw = dict(kind=kind, sector=sector, country=country, region=region, language=language)
    query = directory.DirectoryQuery.read(**raw, sort=sort)
    words = i18n.normalise(lang) or i18n.normalise(i18n.current()) or i18n.default_language()
    return render(
        request,
        "members/embed.html",
        status_code=400 if query.problems else 200,
        query=query,
        raw=raw | {"q": "", "sort": sort},
        problems=query.problems,
        facets=directory.facets(session, query),
        snippet=directory_embed.snippet(query, words),
        view_url=directory_embed.view_url(query, words),
        hide_search_words=True,
        snippet_language=words,
    )


@router.get("/members/embed/view", response_class=HTMLResponse)
def embed_view(
    request: Request,
    session: SessionDep,
    q: str = "",
    kind: str = "",
    sector: str = "",
    country: str = "",
    region: str = "",
    language: str = "",
    sort: str = "name",
    cursor: str = "",
    lang: str = "",
) -> Response:
    """The directory inside a member's site (frameable: app/security.py), in the
    snippet's language (`lang`) unless the visitor chose one with the switcher."""
    words = i18n.normalise(lang)
    if words:
        i18n.adopt_language(request, words)
    raw = dict(kind=kind, sector=sector, country=country, region=region, language=language)
    query = directory.DirectoryQuery.read(q=q, **raw, sort=sort)
    pinned = [
        text
        for text in (
            LABELS.kind(query.kind),
            LABELS.sector(query.sector) if query.sector else "",
            LABELS.region(query.region),
            LABELS.country(query.country),
            LABELS.language(query.language) if query.language else "",
        )
        if text
    ]
    return _directory(
        request,
        session,
        "members/embed_view.html",
        cursor=cursor,
        q=q,
        **raw,
        sort=sort,
        extra={
            "pinned": pinned,
            "extra_params": directory_embed.fixed_filters(query)
            | ({"lang": words} if words else {}),
        },
    )


@router.get("/members/codes", response_class=HTMLResponse)
def code_lists(request: Request) -> Response:
    return render(
        request,
        "members/codes.html",
        kinds=codes.kind_names(),
        sectors=codes.sector_names(),
        licence=open_data.licence(),
    )


@router.get("/members/{slug}", response_class=HTMLResponse)
def member_page(request: Request, session: SessionDep, slug: str) -> Response:
    member = service.public_member(session, slug=slug)
    if member is None:
        raise HTTPException(status_code=404, detail=_("There is no member co-op at this address."))
    return render(
        request,
        "members/public.html",
        member=MemberPublic.of(member),
        jsonld=open_data.script_tag(open_data.member_document(member)),
        licence=open_data.licence(),
        labels=LABELS,
    )


def _suggest_page(
    request: Request,
    member: Member,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "members/suggest.html",
        status_code=status_code,
        member=member,
        values=values,
        errors=errors,
        fields=[(f, FIELD_LABELS.get(f, f)) for f in suggestions.FIELDS],
    )


@router.get("/members/{slug}/suggest", response_class=HTMLResponse)
def suggest_form(request: Request, session: SessionDep, slug: str) -> Response:
    member = service.public_member(session, slug=slug)
    if member is None:
        raise HTTPException(status_code=404, detail=_("There is no member co-op at this address."))
    values = {"field": "", "value": "", "note": "", "from_email": ""}
    return _suggest_page(request, member, values=values, errors={})


@router.post("/members/{slug}/suggest", response_class=HTMLResponse, dependencies=[CsrfProtected])
def suggest_submit(request: Request, session: SessionDep, slug: str, form: FormDep) -> Response:
    member = service.public_member(session, slug=slug)
    if member is None:
        raise HTTPException(status_code=404, detail=_("There is no member co-op at this address."))
    values = {name: str(form.get(name) or "") for name in ("field", "value", "note", "from_email")}
    try:
        suggestions.suggest(session, member=member, **values)
    except suggestions.SuggestionRefused as exc:
        return _suggest_page(request, member, values=values, errors=exc.errors, status_code=422)
    return redirect(
        f"/members/{member.slug}",
        _("Thank you: %(member)s's owners will get your suggestion by email.", member=member.name),
    )


@router.get("/apply", response_class=HTMLResponse)
def apply_form(request: Request) -> Response:
    values = dict.fromkeys(APPLY_TEXT_FIELDS, "") | {
        "show_website": True,
        "show_description": True,
        "show_kind": True,
        "show_region": True,
        "show_logo": True,
    }
    values["sectors"] = []
    return render(request, "members/apply.html", values=values, errors={}, **profile_choices(""))


@router.post("/apply", response_class=HTMLResponse, dependencies=[CsrfProtected])
def apply_submit(request: Request, session: SessionDep, form: FormDep) -> Response:
    """Check the fields, then answer "check your inbox" whatever state the owner address
    is in: the emailed link confirms the application (app/members/applications.py)."""
    values = form_values(form, APPLY_TEXT_FIELDS)
    application, errors = validate(MemberApplication, values)
    # Every problem at once: what the database knows too, not only the field checks.
    found = service.application_problems(
        session, slug=values.get("slug", ""), owner_email=values.get("owner_email", "")
    )
    for field, message in found.items():
        errors.setdefault(field, message)
    status_code = 422
    if application is not None and not errors:
        if abuse.within_limits("apply", request, application.owner_email.strip()):
            applications.accept(session, values=values, language=i18n.current())
            return render(
                request,
                "members/apply_sent.html",
                status_code=202,
                days=applications.LIFETIME.days,
            )
        errors = {"form": _("Too many attempts from here. Please wait a few minutes.")}
        status_code = 429
    return render(
        request,
        "members/apply.html",
        status_code=status_code,
        values=values,
        errors=errors,
        **profile_choices(values.get("country", "")),
    )


@router.get("/apply/confirm", response_class=HTMLResponse)
def apply_confirm_page(request: Request, session: SessionDep, token: str = "") -> Response:
    """Show the application with a Confirm button: mail scanners open links too, so
    nothing happens on GET."""
    try:
        _pending, application = applications.read(session, token=token)
    except applications.ApplicationLinkRefused as exc:
        return render(request, "members/apply_confirm.html", status_code=400, error=str(exc))
    return render(
        request, "members/apply_confirm.html", application=application, token=token, error=""
    )


@router.post("/apply/confirm", response_class=HTMLResponse, dependencies=[CsrfProtected])
def apply_confirm(
    request: Request, session: SessionDep, token: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    try:
        member, _owner = applications.confirm(session, token=token)
    except applications.ApplicationLinkRefused as exc:
        return render(request, "members/apply_confirm.html", status_code=400, error=str(exc))
    return render(request, "members/applied.html", member=member, status_code=201)


# Invitations --------------------------------------------------------------------------------


@router.get("/invitations/{token}", response_class=HTMLResponse)
def invitation_page(request: Request, session: SessionDep, token: str) -> Response:
    """Show the invitation with an Accept button (mail scanners open links too: nothing
    happens on GET). Ignoring it leaves nothing behind."""
    try:
        invitation, member = invitations.read(session, token=token)
    except invitations.InvitationRefused as exc:
        return render(request, "members/invitation.html", status_code=400, error=str(exc))
    return render(
        request, "members/invitation.html", invitation=invitation, member=member, token=token
    )


@router.post("/invitations/{token}", dependencies=[CsrfProtected])
def invitation_accept(request: Request, session: SessionDep, token: str) -> Response:
    try:
        account = invitations.accept(session, token=token)
    except invitations.InvitationRefused as exc:
        return render(request, "members/invitation.html", status_code=400, error=str(exc))
    response = RedirectResponse("/member", status_code=303)
    set_session_cookie(response, auth_service.start_session(session, account=account))
    flash(response, _("Welcome to the team. You are logged in as %(email)s.", email=account.email))
    return response
