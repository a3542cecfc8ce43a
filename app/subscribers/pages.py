"""Public HTML pages: topics, the hosted and embedded signup forms, confirmation,
receipts, the preference centre and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.datastructures import FormData

from app import i18n, signing
from app.confirmation import Confirmation, for_templates, unless_confirmed
from app.consent import receipts
from app.consent.models import ConsentScope, ConsentSource
from app.consent.service import CONSENT_TEXTS
from app.db import SessionDep
from app.i18n import gettext, lazy_gettext
from app.members.models import Member, MemberStatus
from app.sharing.audience import members_sharing_with
from app.subscribers import abuse, confirmation, embed, preferences, signup
from app.subscribers.models import (
    Subscriber,
    SubscribeRequest,
    SubscriptionStatus,
    Topic,
)
from app.subscribers.service import (
    InvalidAddress,
    preferences_token,
    public_topics,
    subscriber_from_preferences_token,
    subscriber_from_unsubscribe_token,
    topics_by_slug,
)
from app.web import CSRF_COOKIE, CsrfProtected, render, require_csrf

router = APIRouter(include_in_schema=False)

CHECK_INBOX = lazy_gettext(
    "Thank you. If this address can receive our newsletters, a message is on its way: "
    "open it and confirm to start receiving them. Nothing is sent until you confirm."
)


def _form_context(session: Session, **extra: Any) -> dict[str, Any]:
    context = {
        "topics": public_topics(session),
        "topic_text": CONSENT_TEXTS[ConsentScope.topic],
        "sharing_text": CONSENT_TEXTS[ConsentScope.sharing],
        "form_ts": abuse.form_timestamp(),
        "honeypot": abuse.HONEYPOT_FIELD,
        "values": {"topics": []},
        "errors": {},
    }
    context.update(extra)
    return context


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "public/topics.html", topics=public_topics(session))


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(request: Request, session: SessionDep) -> HTMLResponse:
    return render(request, "public/subscribe.html", **_form_context(session))


@router.get("/subscribe/{topic_slug}", response_class=HTMLResponse)
def subscribe_topic_page(request: Request, topic_slug: str, session: SessionDep) -> HTMLResponse:
    topic = session.exec(select(Topic).where(Topic.slug == topic_slug)).first()
    if topic is None or not topic.is_open:
        raise HTTPException(404, detail=gettext("There is no such topic."))
    context = _form_context(session, values={"topics": [topic.slug]})
    if not topic.public:  # unlisted: reachable by its link, so show it on its own page
        context["topics"] = [topic, *context["topics"]]
    return render(request, "public/subscribe.html", **context)


async def read_form(request: Request) -> FormData:
    """Read the form in the event loop, so the (blocking) handlers can run in threads."""
    await abuse.limited_body(request)
    return await request.form()


async def read_embed_form(request: Request) -> FormData:
    form = await read_form(request)
    # Our iframe carries a CSRF token; where the browser sends the cookie, check it.
    if form.get("csrf_token") and request.cookies.get(CSRF_COOKIE):
        await require_csrf(request)
    return form


FormDep = Annotated[FormData, Depends(read_form)]
EmbedFormDep = Annotated[FormData, Depends(read_embed_form)]


def _parse_form(form: Any) -> tuple[SubscribeRequest | None, dict[str, str], dict[str, Any]]:
    values = {
        "email": str(form.get("email", "")),
        "first_name": str(form.get("first_name", "")),
        "topics": [str(t) for t in form.getlist("topics")],
        "share_with_members": form.get("share_with_members") in ("1", "on", "true"),
    }
    try:
        return SubscribeRequest(**values), {}, values
    except ValidationError as exc:
        errors = {
            str(err["loc"][0]): err["msg"].removeprefix("Value error, ") for err in exc.errors()
        }
        return None, errors, values


def _handle_signup(
    request: Request,
    session: Session,
    form: FormData,
    *,
    template: str,
    source: ConsentSource,
    member: Member | None,
    require_timestamp: bool,
    extra: dict[str, Any],
    offered: list[Topic] | None = None,
) -> HTMLResponse:
    flat = {k: str(v) for k, v in form.items()}
    if abuse.looks_automated(flat, require_timestamp=require_timestamp):
        # Quietly: a robot learns nothing from the answer.
        return render(request, "public/subscribe_done.html", message=CHECK_INBOX, **extra)
    data, errors, values = _parse_form(form)
    topics: list[Topic] = []
    if data is not None:
        topics, unknown = topics_by_slug(session, data.topics)
        if offered is not None:  # a member's form: only the topics it offers
            offered_ids = {t.id for t in offered}
            unknown += [t.slug for t in topics if t.id not in offered_ids]
            topics = [t for t in topics if t.id in offered_ids]
        if unknown:
            errors["topics"] = lazy_gettext("unknown topic: %(topics)s", topics=", ".join(unknown))
    if errors:
        context = _form_context(session, values=values, errors=errors, **extra)
        return render(request, template, status_code=422, **context)
    assert data is not None
    if not abuse.within_limits("signup", request, str(data.email)):
        context = _form_context(
            session,
            values=values,
            errors={
                "form": lazy_gettext("Too many attempts from here. Please wait a few minutes.")
            },
            **extra,
        )
        return render(request, template, status_code=429, **context)
    try:
        signup.accept_signup(
            session,
            signup=signup.Signup(
                email=str(data.email),
                topics=topics,
                source=source,
                first_name=data.first_name,
                share_with_members=data.share_with_members,
                member=member,
            ),
        )
    except InvalidAddress as exc:
        context = _form_context(session, values=values, errors={"email": str(exc)}, **extra)
        return render(request, template, status_code=422, **context)
    return render(request, "public/subscribe_done.html", message=CHECK_INBOX, **extra)


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[CsrfProtected])
def subscribe(request: Request, session: SessionDep, form: FormDep) -> HTMLResponse:
    return _handle_signup(
        request,
        session,
        form,
        template="public/subscribe.html",
        source=ConsentSource.form,
        member=None,
        require_timestamp=True,
        extra={},
    )


# The embeddable form ---------------------------------------------------------------
# A plain HTML form pasted on a member's site posts here cross-site: it cannot carry
# our CSRF cookie or a fresh timestamp, so honeypot and rate limits guard it. The
# iframe variant is served by us and carries both; a browser that withholds the
# cookie from a third-party frame still sends the signed timestamp. Either way the
# member's signed form token (not the slug in the URL) attributes the signup to the
# member and limits it to the form's topics; without a token the signup is the Club's.

FRAMEABLE = {"Content-Security-Policy": "frame-ancestors *"}


def _active_member(session: Session, slug: str) -> Member:
    member = session.exec(
        select(Member).where(Member.slug == slug, Member.status == MemberStatus.active)
    ).first()
    if member is None:
        raise HTTPException(404, detail=gettext("There is no such member co-op."))
    return member


def _embed_form(session: Session, member_slug: str, token: str) -> embed.EmbedForm | None:
    if not token:
        return None
    try:
        return embed.read_form_token(session, token, member_slug=member_slug)
    except signing.InvalidToken:
        raise HTTPException(
            400,
            detail=gettext(
                "This signup form is damaged or out of date. Please tell the co-op whose "
                "website it is on; you can also subscribe on our own signup page."
            ),
        ) from None


def _embed_extra(member: Member, form: embed.EmbedForm | None, embedded: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {"member": member, "embedded": embedded, "form_token": ""}
    if form is not None:
        extra["topics"] = form.topics
        extra["form_token"] = embed.form_token(form.member, form.topics)
    return extra


@router.get("/subscribe/embed/{member_slug}", response_class=HTMLResponse)
def embed_page(
    request: Request, member_slug: str, session: SessionDep, form_token: str = ""
) -> HTMLResponse:
    member = _active_member(session, member_slug)
    form = _embed_form(session, member_slug, form_token)
    extra = _embed_extra(member, form, embedded=True)
    if form is not None and len(form.topics) == 1:
        extra["values"] = {"topics": [form.topics[0].slug]}
    response = render(request, "public/subscribe_embed.html", **_form_context(session, **extra))
    response.headers.update(FRAMEABLE)
    return response


@router.post("/subscribe/embed/{member_slug}", response_class=HTMLResponse)
def embed_subscribe(
    request: Request, member_slug: str, session: SessionDep, form: EmbedFormDep
) -> HTMLResponse:
    member = _active_member(session, member_slug)
    embed_form = _embed_form(session, member_slug, str(form.get(embed.FORM_TOKEN_FIELD, "")))
    from_our_frame = bool(form.get(abuse.TIMESTAMP_FIELD))
    response = _handle_signup(
        request,
        session,
        form,
        template="public/subscribe_embed.html",
        source=ConsentSource.embed if embed_form else ConsentSource.form,
        member=embed_form.member if embed_form else None,
        require_timestamp=False,
        extra=_embed_extra(member, embed_form, from_our_frame),
        offered=embed_form.topics if embed_form else None,
    )
    response.headers.update(FRAMEABLE)
    return response


# Confirmation ----------------------------------------------------------------------


def _link_problem(request: Request, exc: signing.InvalidToken) -> HTMLResponse:
    if isinstance(exc, signing.ExpiredToken):
        reason = lazy_gettext("This link has expired: confirmation links last seven days.")
    else:
        reason = lazy_gettext(
            "This link is not valid. It may have been cut short when it was copied."
        )
    return render(request, "public/link_problem.html", status_code=400, reason=reason)


def _speaks(request: Request, subscriber: Subscriber | None) -> None:
    """A page reached from a subscriber's email is in their language (unless the reader
    chose another with the switcher)."""
    if subscriber is not None and subscriber.language:
        request.state.subscriber_language = subscriber.language


def _link_used(request: Request, session: Session, used: confirmation.TokenUsed) -> HTMLResponse:
    """A used link shows what its person receives now: topic names only, never the
    address (whoever holds an old link may not be that person)."""
    _speaks(request, used.subscriber)
    return render(
        request,
        "public/link_used.html",
        topics=confirmation.subscribed_topics(session, used.subscriber),
        preferences_token=preferences_token(used.subscriber),
    )


@router.post("/confirm/resend", response_class=HTMLResponse, dependencies=[CsrfProtected])
def confirm_resend(request: Request, session: SessionDep, form: FormDep) -> HTMLResponse:
    email = str(form.get("email", "")).strip()
    if "\r" in email or "\n" in email:
        email = ""
    try:
        if not abuse.within_limits("resend", request, email or None):
            return render(
                request,
                "public/link_problem.html",
                status_code=429,
                reason=lazy_gettext("Too many attempts. Please wait a few minutes and try again."),
            )
        signup.accept_resend(session, email=email)
    except InvalidAddress as exc:
        return render(
            request,
            "public/link_problem.html",
            status_code=422,
            reason=lazy_gettext(
                "That does not look like an email address: %(problem)s", problem=str(exc)
            ),
            email=email,
        )
    return render(request, "public/subscribe_done.html", message=CHECK_INBOX)


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    try:
        view = confirmation.open_link(session, token)
    except confirmation.TokenUsed as used:
        return _link_used(request, session, used)
    except signing.InvalidToken as exc:
        return _link_problem(request, exc)
    _speaks(request, view.subscriber)
    return render(request, "public/confirm.html", view=view, token=token)


@router.post("/confirm/{token}", response_class=HTMLResponse, dependencies=[CsrfProtected])
def confirm(request: Request, token: str, session: SessionDep, form: FormDep) -> HTMLResponse:
    ticked = {int(str(v)) for v in form.getlist("sharing") if str(v).isdigit()}
    try:
        events = confirmation.confirm(session, token=token, sharing_topic_ids=ticked)
    except confirmation.TokenUsed as used:
        return _link_used(request, session, used)
    except signing.InvalidToken as exc:
        return _link_problem(request, exc)
    subscriber = confirmation.subscriber_of(session, token)
    assert subscriber is not None  # confirm() just found them
    _speaks(request, subscriber)
    topic_ids = {e.topic_id for e in events if e.scope == ConsentScope.topic}
    topics = [session.get(Topic, i) for i in sorted(i for i in topic_ids if i)]
    sharing = [session.get(Topic, e.topic_id) for e in events if e.scope == ConsentScope.sharing]
    return render(
        request,
        "public/confirmed.html",
        topics=topics,
        sharing=sharing,
        receipt_token=receipts.download_token([e.id for e in events]) if events else None,  # type: ignore[misc]
        preferences_token=preferences_token(subscriber),
    )


@router.get("/receipts/{token}")
def receipt_download(request: Request, token: str, session: SessionDep) -> Response:
    try:
        event_ids = receipts.event_ids_from_token(token)
        receipt = receipts.build_receipt(session, event_ids)
    except (signing.InvalidToken, receipts.ReceiptNotFound):
        return render(
            request,
            "public/link_problem.html",
            status_code=404,
            reason=lazy_gettext("We could not find that consent receipt."),
        )
    except receipts.ReceiptNotReady:
        # A second or so after confirming: the sequencer has not integrated it yet.
        return render(
            request,
            "public/receipt_sealing.html",
            status_code=202,
            headers={"Retry-After": "1", "Cache-Control": "no-store"},
        )
    return JSONResponse(
        receipt,
        headers={
            "Content-Disposition": f'attachment; filename="consent-receipt-'
            f'{receipt["consentReceiptID"]}.json"'
        },
    )


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
        "sharing": any(s.sharing == SubscriptionStatus.active for s, _ in mine),
        "sharing_text": CONSENT_TEXTS[ConsentScope.sharing],
        "shared_with": members_sharing_with(session, subscriber),
        "mail_language": subscriber.language or i18n.default_language(),
    }


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    try:
        subscriber = subscriber_from_preferences_token(session, token)
    except signing.InvalidToken as exc:
        return _link_problem(request, exc)
    if subscriber is None:
        return render(request, "public/erased.html", status_code=404, gone=True)
    _speaks(request, subscriber)
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
    try:
        subscriber = subscriber_from_preferences_token(session, token)
    except signing.InvalidToken as exc:
        return _link_problem(request, exc)
    if subscriber is None:
        return render(request, "public/erased.html", status_code=404, gone=True)
    _speaks(request, subscriber)
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
        message = lazy_gettext("You are unsubscribed from everything. We will not email you again.")
    elif action == "save":
        chosen: set[int] = set()
        for value in form.getlist("topics"):
            if str(value).isdigit():
                chosen.add(int(str(value)))
        try:
            preferences.update_preferences(
                session,
                subscriber=subscriber,
                topic_ids=chosen,
                sharing=form.get("sharing") in ("1", "on"),
                token=token,
            )
        except preferences.TopicsClosed as refused:
            context = _preferences_context(session, subscriber, token)
            return render(
                request,
                "public/preferences.html",
                status_code=422,
                problem=str(refused),
                chosen=chosen,
                **context,
            )
        language = i18n.normalise(str(form.get("language", "")))
        if language is not None and language != subscriber.language:
            preferences.set_language(session, subscriber=subscriber, language=language)
            _speaks(request, subscriber)
    else:
        raise HTTPException(400, detail=gettext("Choose one of the buttons on the page."))
    context = _preferences_context(session, subscriber, token)
    return render(request, "public/preferences.html", saved=message, **context)


# One-click unsubscribe (RFC 8058) ------------------------------------------------------
# The token is the authority: no CSRF check, no redirect, 200, harmless to repeat.
# A GET (link scanners prefetch) only shows the button.


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    try:
        subscriber, topic_ids = subscriber_from_unsubscribe_token(session, token)
    except signing.InvalidToken as exc:
        return _link_problem(request, exc)
    _speaks(request, subscriber)
    return render(
        request,
        "public/unsubscribe.html",
        token=token,
        topics=_own_topics(session, subscriber, topic_ids),
        everything=topic_ids is None,
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe_one_click(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    try:
        subscriber, topic_ids = subscriber_from_unsubscribe_token(session, token)
    except signing.InvalidToken as exc:
        return _link_problem(request, exc)
    topics = _own_topics(session, subscriber, topic_ids)
    _speaks(request, subscriber)
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
