"""Public signup pages: the topic list, the hosted signup form (all topics or one),
and the form members embed on their own sites (plain HTML or an iframe)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.datastructures import FormData

from app import i18n, signing
from app.consent.models import ConsentScope, ConsentSource
from app.consent.texts import consent_words
from app.db import SessionDep
from app.i18n import gettext, lazy_gettext
from app.members.models import Member, MemberStatus
from app.subscribers import abuse, embed, signup
from app.subscribers.models import (
    SubscribeRequest,
    Topic,
)
from app.subscribers.service import (
    InvalidAddress,
    public_topics,
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
        "topic_text": consent_words(ConsentScope.topic, i18n.current()),
        "sharing_text": consent_words(ConsentScope.sharing, i18n.current()),
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
        "language": str(form.get("language", "")) or i18n.current(),
        "topics": [str(t) for t in form.getlist("topics")],
        "share_with_members": form.get("share_with_members") in ("1", "on", "true"),
    }
    try:
        return SubscribeRequest(**values), {}, values
    except ValidationError as exc:
        errors = {
            str(err["loc"][0]): err["msg"].removeprefix("Value error, ") for err in exc.errors()
        }
        if "email" in errors:  # pydantic's words, in English: ours, in the page's language
            errors["email"] = gettext(
                "That does not look like an email address: check it for a typo (it should "
                "look like name@example.org)."
            )
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
    page_language = i18n.normalise(flat.get("language"))
    if page_language:  # the answer is in the language of the form that was filled in
        i18n.adopt_language(request, page_language)
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
    if not errors and abuse.too_fast(flat):
        errors["form"] = lazy_gettext(
            "That was very quick: please check your details and press the button again."
        )
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
                language=data.language or i18n.current(),
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
    request: Request,
    member_slug: str,
    session: SessionDep,
    form_token: str = "",
    lang: str = "",
) -> HTMLResponse:
    """The iframe snippet's page; its `lang` (en, fr, es) is the language the member
    chose for its website, and the reader's own choice of language still wins."""
    member = _active_member(session, member_slug)
    language = i18n.normalise(lang)
    if language:
        i18n.adopt_language(request, language)
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
