"""The pages of a subscriber's own links after they are on the lists: the preference
centre (topics, sharing, download my data, erase me) and RFC 8058 one-click
unsubscribe."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app import i18n, signing
from app.confirmation import Confirmation, for_templates, unless_confirmed
from app.consent.models import ConsentScope
from app.consent.texts import consent_words
from app.db import SessionDep
from app.i18n import gettext, lazy_gettext
from app.sharing.audience import members_sharing_with
from app.subscribers import preferences
from app.subscribers.link_pages import link_problem, speaks
from app.subscribers.models import (
    Subscriber,
    SubscriptionStatus,
    Topic,
)
from app.subscribers.service import (
    public_topics,
    subscriber_from_preferences_token,
    subscriber_from_unsubscribe_token,
)
from app.subscribers.signup_pages import FormDep
from app.web import CsrfProtected, render

router = APIRouter(include_in_schema=False)


# Preference centre -----------------------------------------------------------------


def _preferences_context(session: Session, subscriber: Subscriber, token: str) -> dict[str, Any]:
    mine = preferences.subscriptions_of(session, subscriber)
    state = {topic.id: sub for sub, topic in mine}
    # Only the person's own subscriptions are listed as theirs; other public topics are
    # offered apart, to join.
    own = [topic for sub, topic in mine if sub.status != SubscriptionStatus.unsubscribed]
    others = {t.id: t for t in public_topics(session)}
    # Topics they left are offered again only while they take signups.
    others.update({topic.id: topic for sub, topic in mine if topic.is_open})
    for topic in own:
        others.pop(topic.id, None)
    return {
        "subscriber": subscriber,
        "token": token,
        "topics": own,
        "other_topics": sorted(others.values(), key=lambda t: t.name),
        "state": state,
        # Sharing is offered on each topic the person is on, ticked where it is on.
        "sharing_topics": [t for sub, t in mine if sub.status == SubscriptionStatus.active],
        "sharing_on": {t.id for sub, t in mine if sub.sharing == SubscriptionStatus.active},
        "sharing_text": consent_words(ConsentScope.sharing, i18n.current()),
        "shared_with": members_sharing_with(session, subscriber),
        "mail_language": subscriber.language or i18n.default_language(),
    }


def _ids(values: list) -> set[int]:  # type: ignore[type-arg]
    return {int(str(v)) for v in values if str(v).isdigit()}


def _holder(request: Request, session: Session, token: str) -> Subscriber | Response:
    """The person a preference link belongs to, or the page that says why it does not
    work (a bad link, or they were erased)."""
    try:
        subscriber = subscriber_from_preferences_token(session, token)
    except signing.InvalidToken as exc:
        return link_problem(request, exc)
    if subscriber is None:
        return render(request, "public/erased.html", status_code=404, gone=True)
    speaks(request, subscriber)
    return subscriber


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str, session: SessionDep) -> Response:
    subscriber = _holder(request, session, token)
    if isinstance(subscriber, Response):
        return subscriber
    return render(
        request, "public/preferences.html", **_preferences_context(session, subscriber, token)
    )


@for_templates
def unsubscribe_all_confirmation(token: str) -> Confirmation:
    return Confirmation(
        title=gettext("Unsubscribe from everything?"),
        message=gettext(
            "You will leave every topic and stop sharing with member co-ops, and we will "
            "not email you again. To come back later you would sign up and confirm again."
        ),
        button=gettext("Unsubscribe from everything"),
        back=f"/preferences/{token}",
    )


@router.post("/preferences/{token}", dependencies=[CsrfProtected])
def preferences_post(request: Request, token: str, session: SessionDep, form: FormDep) -> Response:
    subscriber = _holder(request, session, token)
    if isinstance(subscriber, Response):
        return subscriber
    action = form.get("action")
    if action == "download":
        data = preferences.export_data(session, subscriber)
        return Response(
            json.dumps(data, indent=2, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="my-coop-data-club-data.json"'},
        )
    if action == "erase":
        return render(request, "public/erase_confirm.html", token=token)
    if action == "erase_confirmed":
        preferences.erase(session, subscriber=subscriber)
        return render(request, "public/erased.html")
    message = lazy_gettext("Your choices are saved.")
    if action == "unsubscribe_all":
        page = unless_confirmed(request, form, unsubscribe_all_confirmation(token))
        if page is not None:
            return page
        preferences.unsubscribe(session, subscriber=subscriber, topic_ids=None, token=token)
        message = lazy_gettext(
            "You are unsubscribed from everything. We will not email you again, except to "
            "ask you to confirm if this address is signed up once more."
        )
    elif action == "save":
        chosen = _ids(form.getlist("topics"))
        sharing_chosen = _ids(form.getlist("sharing"))
        try:
            preferences.update_preferences(
                session,
                subscriber=subscriber,
                topic_ids=chosen,
                sharing_topic_ids=sharing_chosen,
                token=token,
            )
        except preferences.TopicsClosed as refused:
            context = _preferences_context(session, subscriber, token)
            # The refused topics stay on the form, ticked as chosen and marked.
            offered = {topic.id for topic in context["other_topics"]}
            context["other_topics"] = sorted(
                [*context["other_topics"], *(t for t in refused.topics if t.id not in offered)],
                key=lambda t: t.name,
            )
            return render(
                request,
                "public/preferences.html",
                status_code=422,
                problem=str(refused),
                chosen=chosen,
                **{**context, "sharing_on": sharing_chosen},
            )
        language = i18n.normalise(str(form.get("language", "")))
        if language is not None and language != subscriber.language:
            preferences.set_language(session, subscriber=subscriber, language=language)
            speaks(request, subscriber)
    else:
        raise HTTPException(400, detail=gettext("Choose one of the buttons on the page."))
    context = _preferences_context(session, subscriber, token)
    return render(request, "public/preferences.html", saved=message, **context)


# One-click unsubscribe (RFC 8058) ------------------------------------------------------
# The token is the authority: no CSRF check, no redirect, 200, harmless to repeat.
# A GET (link scanners prefetch) only shows the button.


def _speaks_the_newsletters(request: Request, subscriber: Subscriber | None) -> str | None:
    """A newsletter's unsubscribe link names its language (`?lang=`): the page follows
    the newsletter (issue 20), else the subscriber's language; the reader's own choice
    with the switcher still comes first. The newsletter's language, if the link names one."""
    language = i18n.normalise(request.query_params.get("lang"))
    if language is not None:
        i18n.adopt_language(request, language)
    else:
        speaks(request, subscriber)
    return language


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    try:
        subscriber, topic_ids = subscriber_from_unsubscribe_token(session, token)
    except signing.InvalidToken as exc:
        _speaks_the_newsletters(request, None)
        return link_problem(request, exc)
    language = _speaks_the_newsletters(request, subscriber)
    return render(
        request,
        "public/unsubscribe.html",
        token=token,
        action=f"/u/{token}?lang={language}" if language else f"/u/{token}",
        topics=_own_topics(session, subscriber, topic_ids),
        everything=topic_ids is None,
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe_one_click(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    try:
        subscriber, topic_ids = subscriber_from_unsubscribe_token(session, token)
    except signing.InvalidToken as exc:
        return link_problem(request, exc)
    topics = _own_topics(session, subscriber, topic_ids)
    _speaks_the_newsletters(request, subscriber)
    if subscriber is not None:
        preferences.unsubscribe(session, subscriber=subscriber, topic_ids=topic_ids, token=token)
    return render(request, "public/unsubscribed.html", topics=topics, everything=topic_ids is None)


def _own_topics(
    session: Session, subscriber: Subscriber | None, topic_ids: frozenset[int] | None
) -> list[Topic]:
    """The topics a link is about (None: every topic) that the person chose and still
    has, by name: a page never names a topic they did not choose."""
    if subscriber is None:
        return []
    return [
        topic
        for subscription, topic in preferences.subscriptions_of(session, subscriber)
        if subscription.status != SubscriptionStatus.unsubscribed
        and (topic_ids is None or topic.id in topic_ids)
    ]
