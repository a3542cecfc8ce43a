"""Public member pages: the directory (/members), a member's page, and applying to join."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app.db import SessionDep
from app.members import service
from app.members.forms import PROFILE_TEXT_FIELDS, FormDep, form_values, validate
from app.members.models import MemberApplication, MemberPublic
from app.web import CsrfProtected, render

router = APIRouter(include_in_schema=False)

APPLY_TEXT_FIELDS = (*PROFILE_TEXT_FIELDS, "slug", "owner_email", "owner_name")


@router.get("/members", response_class=HTMLResponse)
def directory(
    request: Request,
    session: SessionDep,
    q: str = "",
    kind: str = "",
    region: str = "",
) -> Response:
    members = service.directory(session, q=q, kind=kind, region=region)
    return render(
        request,
        "members/directory.html",
        members=[MemberPublic.of(m) for m in members],
        facets=service.directory_facets(session),
        q=q,
        kind=kind,
        region=region,
        searching=bool(q.strip() or kind.strip() or region.strip()),
    )


@router.get("/members/{slug}", response_class=HTMLResponse)
def member_page(request: Request, session: SessionDep, slug: str) -> Response:
    member = service.public_member(session, slug=slug)
    if member is None:
        raise HTTPException(status_code=404, detail="There is no member co-op at this address.")
    return render(request, "members/public.html", member=MemberPublic.of(member))


@router.get("/apply", response_class=HTMLResponse)
def apply_form(request: Request) -> Response:
    values = dict.fromkeys(APPLY_TEXT_FIELDS, "") | {
        "show_website": True,
        "show_description": True,
        "show_kind": True,
        "show_region": True,
        "show_logo": True,
    }
    return render(request, "members/apply.html", values=values, errors={})


@router.post("/apply", response_class=HTMLResponse, dependencies=[CsrfProtected])
def apply_submit(request: Request, session: SessionDep, form: FormDep) -> Response:
    values = form_values(form, APPLY_TEXT_FIELDS)
    application, errors = validate(MemberApplication, values)
    # Every problem at once: what the database knows too, not only the field checks.
    found = service.application_problems(
        session, slug=values.get("slug", ""), owner_email=values.get("owner_email", "")
    )
    for field, message in found.items():
        errors.setdefault(field, message)
    if application is not None and not errors:
        try:
            member, _owner = service.apply(session, application=application)
        except service.MemberFormError as exc:
            errors = {exc.field: exc.message}
        else:
            return render(request, "members/applied.html", member=member, status_code=201)
    return render(request, "members/apply.html", status_code=422, values=values, errors=errors)
