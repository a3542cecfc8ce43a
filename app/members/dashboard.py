"""The member dashboard (/member): the co-op's profile, staff, API keys and signup form.

Every route resolves the member from the logged-in account (MemberStaff/MemberOwner),
and looks objects up through that member, so another member's ids answer 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import i18n
from app.auth import service as auth_service
from app.auth.deps import MemberContext, MemberOwner, MemberStaff
from app.auth.models import ApiKey
from app.confirmation import Confirmation, PostedForm, for_templates, unless_confirmed
from app.db import SessionDep
from app.i18n import gettext as _
from app.members import codes, history, invitations, service, suggestions
from app.members.forms import (
    FIELD_LABELS,
    PROFILE_TEXT_FIELDS,
    FormDep,
    form_values,
    profile_choices,
    profile_values,
    validate,
)
from app.members.models import Member, Role
from app.members.schemas import MemberProfile
from app.subscribers import embed
from app.subscribers.service import member_topic_counts
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/member", include_in_schema=False)


def show_dashboard(
    request: Request,
    session: SessionDep,
    context: MemberContext,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    member = context.member
    extra.setdefault("invite", {"email": "", "display_name": "", "role": "staff"})
    extra.setdefault("errors", {})
    return render(
        request,
        "members/dashboard.html",
        status_code=status_code,
        member=member,
        me=context.account,
        is_owner=context.is_owner,
        staff=service.staff(session, member_id=member.id),  # type: ignore[arg-type]
        invited=invitations.pending(session, member_id=member.id or 0) if context.is_owner else [],
        keys=auth_service.member_keys(session, member_id=member.id),  # type: ignore[arg-type]
        **_embed_context(request, session, member),
        topics=member_topic_counts(session, member.id),  # type: ignore[arg-type]
        **extra,
    )


def _embed_context(request: Request, session: SessionDep, member: Member) -> dict[str, Any]:
    """The snippets for the topics the member ticked (`?embed_topics=…`, several allowed);
    by default every topic it may offer, so visitors choose among them. They speak the
    language chosen (`?embed_lang=`), by default the one this page is in."""
    offerable = embed.offerable_topics(session, member)
    chosen = set(request.query_params.getlist("embed_topics"))
    topics = [t for t in offerable if t.slug in chosen] or offerable
    language = i18n.normalise(request.query_params.get("embed_lang")) or i18n.current()
    form = embed.EmbedForm(member, topics)
    snippets = embed.embed_snippets(form, language) if topics else None
    return {
        "embed": snippets,
        "embed_offerable": offerable,
        "embed_chosen": topics,
        "embed_language": language,
    }


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, context: MemberStaff) -> Response:
    return show_dashboard(request, session, context)


# Profile -------------------------------------------------------------------------------------


def _profile_page(
    request: Request,
    session: SessionDep,
    context: MemberContext,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "members/profile.html",
        status_code=status_code,
        member=context.member,
        values=values,
        errors=errors,
        changes=history.changes_of(session, member_id=context.member.id or 0),
        suggested=suggestions.pending(session, member_id=context.member.id or 0),
        field_labels=FIELD_LABELS,
        **profile_choices(values.get("country") or ""),
    )


@router.get("/profile", response_class=HTMLResponse)
def profile_form(request: Request, session: SessionDep, context: MemberOwner) -> Response:
    return _profile_page(
        request, session, context, values=profile_values(context.member), errors={}
    )


@router.post("/profile", response_class=HTMLResponse, dependencies=[CsrfProtected])
def profile_save(
    request: Request, session: SessionDep, context: MemberOwner, form: FormDep
) -> Response:
    values = form_values(form, PROFILE_TEXT_FIELDS)
    profile, errors = validate(MemberProfile, values)
    if profile is None:
        return _profile_page(
            request, session, context, values=values, errors=errors, status_code=422
        )
    service.update_profile(session, member=context.member, profile=profile, account=context.account)
    return redirect("/member", _("Your co-op's profile is saved."))


@router.get("/suggestions/{suggestion_id}", response_class=HTMLResponse)
def suggestion_page(
    request: Request, session: SessionDep, context: MemberOwner, suggestion_id: int
) -> Response:
    """A suggested correction, with Accept and Dismiss (nothing happens on GET)."""
    suggestion = suggestions.of_member(
        session, member_id=context.member.id or 0, suggestion_id=suggestion_id
    )
    if suggestion is None:
        raise HTTPException(
            status_code=404, detail=_("There is no such suggestion for your co-op.")
        )
    return render(
        request,
        "members/suggestion.html",
        member=context.member,
        suggestion=suggestion,
        field_label=FIELD_LABELS.get(suggestion.field, suggestion.field),
        current=_shown_value(
            suggestion.field, profile_values(context.member).get(suggestion.field)
        ),
        status_label=suggestions.STATUS_LABELS[suggestion.status],
    )


def _shown_value(field: str, value: Any) -> Any:
    """A profile value as the owner reads it: kinds and sectors by their names."""
    if field == "kind" and value:
        return codes.kind_name(value)
    if field == "sectors":
        return [codes.sector_name(code) for code in value or []]
    return value


@router.post("/suggestions/{suggestion_id}", dependencies=[CsrfProtected])
def suggestion_decide(
    request: Request,
    session: SessionDep,
    context: MemberOwner,
    suggestion_id: int,
    decision: Annotated[str, Form()] = "",
) -> Response:
    suggestion = suggestions.of_member(
        session, member_id=context.member.id or 0, suggestion_id=suggestion_id
    )
    if suggestion is None:
        raise HTTPException(
            status_code=404, detail=_("There is no such suggestion for your co-op.")
        )
    if decision not in ("accept", "dismiss"):
        return redirect(
            f"/member/suggestions/{suggestion_id}", _("Choose Accept or Dismiss."), kind="error"
        )
    try:
        suggestions.decide(
            session,
            member=context.member,
            suggestion=suggestion,
            account=context.account,
            accept=decision == "accept",
        )
    except suggestions.SuggestionRefused as exc:
        return redirect(f"/member/suggestions/{suggestion_id}", str(exc), kind="error")
    done = (
        _("The suggestion is accepted: your profile is updated.")
        if decision == "accept"
        else _("The suggestion is dismissed.")
    )
    return redirect("/member/profile", done)


# Staff ---------------------------------------------------------------------------------------


@router.post("/staff", response_class=HTMLResponse, dependencies=[CsrfProtected])
def staff_invite(
    request: Request,
    session: SessionDep,
    context: MemberOwner,
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=120)] = "",
    role: Annotated[str, Form(max_length=20)] = "staff",
) -> Response:
    invite = {"email": email, "display_name": display_name, "role": role}
    try:
        invitation = invitations.invite(
            session,
            member=context.member,
            invited_by=context.account,
            email=email,
            display_name=display_name,
            role=Role(role) if role in ("owner", "staff") else Role.admin,
        )
    except service.MemberFormError as exc:
        return show_dashboard(
            request,
            session,
            context,
            status_code=422,
            invite=invite,
            errors={exc.field: exc.message},
        )
    return redirect(
        "/member#staff",
        _(
            "We emailed %(email)s an invitation; they join your team when they accept it.",
            email=invitation.email,
        ),
    )


def _staff_or_404(session: SessionDep, context: MemberContext, account_id: int):  # type: ignore[no-untyped-def]
    account = service.staff_account(
        session,
        member_id=context.member.id,  # type: ignore[arg-type]
        account_id=account_id,
    )
    if account is None:
        raise HTTPException(status_code=404, detail=_("There is no such person on your team."))
    return account


@router.post("/staff/{account_id}/role", dependencies=[CsrfProtected])
def staff_role(
    session: SessionDep,
    context: MemberOwner,
    account_id: int,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    account = _staff_or_404(session, context, account_id)
    if role not in ("owner", "staff"):
        return redirect("/member#staff", _("Choose owner or staff."), "error")
    try:
        service.change_role(
            session,
            member_id=context.member.id,  # type: ignore[arg-type]
            account=account,
            role=Role(role),
        )
    except service.NotAllowed as exc:
        return redirect("/member#staff", str(exc), "error")
    return redirect(
        "/member#staff",
        _("%(person)s is now owner.", person=account.label)
        if role == "owner"
        else _("%(person)s is now staff.", person=account.label),
    )


@router.post("/staff/{account_id}/remove", dependencies=[CsrfProtected])
def staff_remove(session: SessionDep, context: MemberOwner, account_id: int) -> Response:
    account = _staff_or_404(session, context, account_id)
    try:
        service.remove(session, member_id=context.member.id, account=account)  # type: ignore[arg-type]
    except service.NotAllowed as exc:
        return redirect("/member#staff", str(exc), "error")
    auth_service.end_all_sessions(session, account_id=account.id)  # type: ignore[arg-type]
    if account.id == context.account.id:
        return redirect("/", _("You left your co-op's team."))
    return redirect(
        "/member#staff", _("%(person)s is no longer on your team.", person=account.label)
    )


# API keys ------------------------------------------------------------------------------------


@router.post("/keys", response_class=HTMLResponse, dependencies=[CsrfProtected])
def key_create(
    request: Request,
    session: SessionDep,
    context: MemberOwner,
    name: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    if not context.member.is_active:
        raise HTTPException(
            status_code=403,
            detail=_("API keys can be created once your co-op's membership is active."),
        )
    if not name.strip():
        return show_dashboard(
            request,
            session,
            context,
            status_code=422,
            errors={"key_name": _("Give the key a name, e.g. the website or tool that uses it.")},
        )
    key, secret = auth_service.create_api_key(
        session, member=context.member, name=name, created_by=context.account
    )
    # The secret is in this one response and nowhere else, ever.
    response = show_dashboard(request, session, context, new_key=key, new_secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response


@for_templates
def revoke_confirmation(key: ApiKey) -> Confirmation:
    return Confirmation(
        title=_("Revoke the key “%(name)s”?", name=key.name),
        message=_(
            "Everything that uses the key starting %(prefix)s… (a website form, a script) is "
            "refused from now on. A revoked key cannot be turned back on: you would make a new "
            "key and put it everywhere the old one was.",
            prefix=key.prefix,
        ),
        button=_("Revoke the key"),
        back="/member#keys",
    )


@router.post("/keys/{key_id}/revoke", dependencies=[CsrfProtected])
def key_revoke(
    request: Request, session: SessionDep, context: MemberOwner, key_id: int, form: PostedForm
) -> Response:
    key = auth_service.member_key(session, member_id=context.member.id, key_id=key_id)  # type: ignore[arg-type]
    if key is None:
        raise HTTPException(status_code=404, detail=_("Your co-op has no such API key."))
    page = unless_confirmed(request, form, revoke_confirmation(key))
    if page is not None:
        return page
    auth_service.revoke_api_key(session, key=key)
    return redirect(
        "/member#keys",
        _("The key “%(name)s” (%(prefix)s…) is revoked.", name=key.name, prefix=key.prefix),
    )
