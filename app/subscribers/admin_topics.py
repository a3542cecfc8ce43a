"""Admin pages for topics (/admin/topics): open, edit, hide, archive, reopen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from app import admin_labels  # noqa: F401  (the state names the admin templates show)
from app.auth.deps import RequireAdmin
from app.db import SessionDep
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.members.forms import FormDep
from app.members.models import Member, MemberStatus
from app.subscribers.models import Topic, TopicStatus
from app.subscribers.topics import (
    TopicError,
    TopicForm,
    create_topic,
    set_status,
    slug_in_use,
    topic_rows,
    update_topic,
)
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin/topics", include_in_schema=False)

STATUS_WORDS = {
    TopicStatus.open: lazy_gettext(
        "%(name)s is open: it is on the public pages and takes signups."
    ),
    TopicStatus.hidden: lazy_gettext(
        "%(name)s is hidden: its subscribers stay, but it left the public pages."
    ),
    TopicStatus.archived: lazy_gettext(
        "%(name)s is archived: hidden, and gone from the topic pickers."
    ),
}


def _members(session: Session) -> list[Member]:
    return list(
        session.exec(
            select(Member).where(col(Member.status) == MemberStatus.active).order_by(Member.name)
        ).all()
    )


def _form(form: Any) -> TopicForm:
    return TopicForm(
        slug=str(form.get("slug") or ""),
        name=str(form.get("name") or ""),
        description=str(form.get("description") or ""),
        public=form.get("public") == "on",
        owner_slug=str(form.get("owner") or ""),
    )


def _values(data: TopicForm) -> dict[str, Any]:
    return {
        "slug": data.slug,
        "name": data.name,
        "description": data.description,
        "public": data.public,
        "owner": data.owner_slug,
    }


def _topic_or_404(session: Session, topic_id: int) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise HTTPException(status_code=404, detail=_("There is no such topic."))
    return topic


@router.get("", response_class=HTMLResponse)
def topics_page(request: Request, session: SessionDep, admin: RequireAdmin) -> Response:
    return render(
        request,
        "admin/topics.html",
        rows=topic_rows(session),
        members=_members(session),
        values={"public": True},
        errors={},
    )


@router.post("", response_class=HTMLResponse, dependencies=[CsrfProtected])
def topic_create(
    request: Request, session: SessionDep, admin: RequireAdmin, form: FormDep
) -> Response:
    data = _form(form)
    try:
        topic = create_topic(session, data)
    except TopicError as exc:
        session.rollback()
        return render(
            request,
            "admin/topics.html",
            status_code=422,
            rows=topic_rows(session),
            members=_members(session),
            values=_values(data),
            errors=exc.errors,
        )
    address = f"/subscribe/{topic.slug}"
    return redirect(
        f"/admin/topics/{topic.id}",
        _("%(name)s is open at %(address)s.", name=topic.name, address=address),
    )


def _edit_page(
    request: Request, session: Session, topic: Topic, status_code: int = 200, **context: Any
) -> Response:
    owner = session.get(Member, topic.member_id) if topic.member_id else None
    context.setdefault(
        "values",
        {
            "slug": topic.slug,
            "name": topic.name,
            "description": topic.description,
            "public": topic.public,
            "owner": owner.slug if owner else "",
        },
    )
    context.setdefault("errors", {})
    return render(
        request,
        "admin/topic.html",
        status_code=status_code,
        topic=topic,
        slug_fixed=slug_in_use(session, topic),
        members=_members(session),
        statuses=list(TopicStatus),
        **context,
    )


@router.get("/{topic_id}", response_class=HTMLResponse)
def topic_page(
    request: Request, session: SessionDep, admin: RequireAdmin, topic_id: int
) -> Response:
    return _edit_page(request, session, _topic_or_404(session, topic_id))


@router.post("/{topic_id}", response_class=HTMLResponse, dependencies=[CsrfProtected])
def topic_update(
    request: Request, session: SessionDep, admin: RequireAdmin, topic_id: int, form: FormDep
) -> Response:
    topic = _topic_or_404(session, topic_id)
    data = _form(form)
    try:
        update_topic(session, topic, data)
    except TopicError as exc:
        session.rollback()
        topic = _topic_or_404(session, topic_id)
        return _edit_page(request, session, topic, 422, values=_values(data), errors=exc.errors)
    return redirect(f"/admin/topics/{topic.id}", _("%(name)s is saved.", name=topic.name))


@router.post("/{topic_id}/status", dependencies=[CsrfProtected])
def topic_status(
    session: SessionDep, admin: RequireAdmin, topic_id: int, form: FormDep
) -> Response:
    topic = _topic_or_404(session, topic_id)
    wanted = str(form.get("status") or "")
    if wanted not in {s.value for s in TopicStatus}:
        return redirect(f"/admin/topics/{topic_id}", _("Choose open, hidden or archived."), "error")
    set_status(session, topic, TopicStatus(wanted))
    return redirect(
        f"/admin/topics/{topic_id}", str(STATUS_WORDS[topic.status]) % {"name": topic.name}
    )
