"""Admin pages for the people on the lists: the filtered list, one person's record and
the actions on it (each confirmed, each in the consent ledger with the admin as the
actor), and the suppression page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from app import admin_labels  # noqa: F401  (the state names the admin templates show)
from app.auth.deps import RequireAdmin
from app.confirmation import Confirmation, PostedForm, for_templates, unless_confirmed
from app.consent import receipts
from app.db import SessionDep
from app.i18n import gettext as _
from app.i18n import lazy_gettext
from app.members.models import Member
from app.subscribers import preferences, roster
from app.subscribers.models import Subscriber, Topic
from app.subscribers.service import (
    InvalidAddress,
    normalise_email,
    subscriber_by_email,
    suppress,
    suppression_for,
)
from app.web import CsrfProtected, redirect, render

router = APIRouter(prefix="/admin", include_in_schema=False)

ADMIN_SUPPRESSED = "suppressed by an admin"
ADMIN_ERASED = "erased by an admin"


def _subscriber_or_404(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise HTTPException(status_code=404, detail=_("There is no such subscriber (erased?)."))
    return subscriber


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_list(
    request: Request, session: SessionDep, admin: RequireAdmin, after: str = ""
) -> Response:
    filters = roster.Filters.from_query(request.query_params)
    page = roster.search(session, filters, after=after[:320])
    params = filters.query_params()
    return render(
        request,
        "admin/subscribers.html",
        filters=filters,
        page=page,
        topics=list(session.exec(select(Topic).order_by(Topic.name)).all()),
        members=list(session.exec(select(Member).order_by(Member.name)).all()),
        next_url="/admin/subscribers?" + urlencode({**params, "after": page.next_after})
        if page.next_after
        else None,
        first_url="/admin/subscribers?" + urlencode(params) if after else None,
        query=params,
    )


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def subscriber_page(
    request: Request, session: SessionDep, admin: RequireAdmin, subscriber_id: int
) -> Response:
    subscriber = _subscriber_or_404(session, subscriber_id)
    history = roster.consent_history(session, subscriber)
    confirmed = roster.confirmed_events(history)
    return render(
        request,
        "admin/subscriber.html",
        subscriber=subscriber,
        source=session.get(Member, subscriber.source_member_id)
        if subscriber.source_member_id
        else None,
        subscriptions=preferences.subscriptions_of(session, subscriber),
        history=history,
        receipt_tokens={e.id: receipts.download_token([e.id]) for e in confirmed},  # type: ignore[list-item]
        suppression=suppression_for(session, subscriber.email),
    )


@for_templates
def admin_unsubscribe_confirmation(subscriber: Subscriber, topic: Topic | None) -> Confirmation:
    return Confirmation(
        title=_("Unsubscribe %(email)s from %(topic)s?", email=subscriber.email, topic=topic.name)
        if topic
        else _("Unsubscribe %(email)s from every topic?", email=subscriber.email),
        message=_(
            "Their consent is withdrawn in the consent ledger, with you as the admin who "
            "did it. Only they can subscribe again, by confirming a new signup."
        ),
        button=_("Unsubscribe from %(topic)s", topic=topic.name)
        if topic
        else _("Unsubscribe from every topic"),
        back=f"/admin/subscribers/{subscriber.id}",
    )


# What suppressing and erasing do, asked before either is done: title, message, button.
_ASKED = {
    "suppress": (
        lazy_gettext("Suppress %(email)s?"),
        lazy_gettext(
            "Every consent they gave is withdrawn (recorded with you as the admin) and the "
            "address gets no more mail. Only if it is signed up again does it get one email, "
            "asking to confirm; confirming lifts the suppression."
        ),
        lazy_gettext("Suppress this address"),
    ),
    "erase": (
        lazy_gettext("Erase %(email)s?"),
        lazy_gettext(
            "Their address, name and subscriptions are deleted for good; only a "
            "suppression (a keyed hash of the address) and the anonymous consent ledger "
            "remain. This cannot be undone."
        ),
        lazy_gettext("Erase this person"),
    ),
}


def _asked(subscriber: Subscriber, action: str) -> Confirmation:
    title, message, button = _ASKED[action]
    return Confirmation(
        title=str(title) % {"email": subscriber.email},
        message=str(message),
        button=str(button),
        back=f"/admin/subscribers/{subscriber.id}",
    )


@for_templates
def admin_suppress_confirmation(subscriber: Subscriber) -> Confirmation:
    return _asked(subscriber, "suppress")


@for_templates
def admin_erase_confirmation(subscriber: Subscriber) -> Confirmation:
    return _asked(subscriber, "erase")


@router.post("/subscribers/{subscriber_id}/unsubscribe", dependencies=[CsrfProtected])
def subscriber_unsubscribe(
    request: Request,
    session: SessionDep,
    admin: RequireAdmin,
    subscriber_id: int,
    form: PostedForm,
) -> Response:
    subscriber = _subscriber_or_404(session, subscriber_id)
    chosen = str(form.get("topic") or "all")
    topic = session.get(Topic, int(chosen)) if chosen.isdigit() else None
    if chosen != "all" and topic is None:
        return redirect(f"/admin/subscribers/{subscriber_id}", _("Choose a topic."), "error")
    page = unless_confirmed(request, form, admin_unsubscribe_confirmation(subscriber, topic))
    if page is not None:
        return page
    changed = preferences.unsubscribe(
        session,
        subscriber=subscriber,
        topic_ids=[topic.id] if topic else None,  # type: ignore[list-item]
        token=None,
        actor_account_id=admin.id,
    )
    email = subscriber.email
    if topic is None:
        message = (
            _("%(email)s is unsubscribed from every topic.", email=email)
            if changed
            else _("%(email)s was not subscribed to any topic: nothing changed.", email=email)
        )
    else:
        message = (
            _("%(email)s is unsubscribed from %(topic)s.", email=email, topic=topic.name)
            if changed
            else _(
                "%(email)s was not subscribed to %(topic)s: nothing changed.",
                email=email,
                topic=topic.name,
            )
        )
    return redirect(f"/admin/subscribers/{subscriber_id}", message)


@router.post("/subscribers/{subscriber_id}/suppress", dependencies=[CsrfProtected])
def subscriber_suppress(
    request: Request,
    session: SessionDep,
    admin: RequireAdmin,
    subscriber_id: int,
    form: PostedForm,
) -> Response:
    subscriber = _subscriber_or_404(session, subscriber_id)
    page = unless_confirmed(request, form, admin_suppress_confirmation(subscriber))
    if page is not None:
        return page
    preferences.unsubscribe(
        session, subscriber=subscriber, topic_ids=None, token=None, actor_account_id=admin.id
    )
    suppress(session, subscriber.email, ADMIN_SUPPRESSED)
    return redirect(
        f"/admin/subscribers/{subscriber_id}",
        _("%(email)s is suppressed: it gets no more mail.", email=subscriber.email),
    )


@router.post("/subscribers/{subscriber_id}/erase", dependencies=[CsrfProtected])
def subscriber_erase(
    request: Request,
    session: SessionDep,
    admin: RequireAdmin,
    subscriber_id: int,
    form: PostedForm,
) -> Response:
    subscriber = _subscriber_or_404(session, subscriber_id)
    page = unless_confirmed(request, form, admin_erase_confirmation(subscriber))
    if page is not None:
        return page
    email = subscriber.email
    preferences.erase(
        session, subscriber=subscriber, reason=ADMIN_ERASED, actor_account_id=admin.id
    )
    return redirect(
        "/admin/subscribers", _("%(email)s is erased; only a suppression remains.", email=email)
    )


@router.get("/suppressions", response_class=HTMLResponse)
def suppressions_page(
    request: Request, session: SessionDep, admin: RequireAdmin, address: str = ""
) -> Response:
    lookup: dict[str, object] | None = None
    if address.strip():
        try:
            email = normalise_email(address[:320])
        except InvalidAddress:
            lookup = {"error": _("That is not an email address we could use.")}
        else:
            found = suppression_for(session, email)
            lookup = {
                "suppressed": found is not None,
                "suppression": found,
                "subscriber": subscriber_by_email(session, email),
            }
    return render(
        request,
        "admin/suppressions.html",
        counts=roster.suppression_counts(session),
        address=address[:320],
        lookup=lookup,
    )
