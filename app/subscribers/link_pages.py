"""The pages a mailed link opens before anything is chosen: confirming a subscription,
asking for a new link, and downloading a consent receipt. Also how every link page
answers a bad or used link."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session

from app import i18n, signing
from app.consent import receipts
from app.consent.models import ConsentScope
from app.db import SessionDep
from app.i18n import lazy_gettext
from app.subscribers import abuse, confirmation, resend
from app.subscribers.models import (
    Subscriber,
    Topic,
)
from app.subscribers.service import (
    InvalidAddress,
    preferences_token,
)
from app.subscribers.signup_pages import CHECK_INBOX, FormDep
from app.web import CsrfProtected, render

router = APIRouter(include_in_schema=False)


# Confirmation ----------------------------------------------------------------------


def link_problem(request: Request, exc: signing.InvalidToken) -> HTMLResponse:
    if isinstance(exc, signing.ExpiredToken):
        reason = lazy_gettext("This link has expired: confirmation links last seven days.")
    else:
        reason = lazy_gettext(
            "This link is not valid. It may have been cut short when it was copied."
        )
    return render(request, "public/link_problem.html", status_code=400, reason=reason)


def speaks(request: Request, subscriber: Subscriber | None) -> None:
    """A page reached from a subscriber's email is in their language (unless the reader
    chose another with the switcher)."""
    if subscriber is not None and subscriber.language:
        i18n.adopt_language(request, subscriber.language)


def _link_used(request: Request, session: Session, used: confirmation.TokenUsed) -> HTMLResponse:
    """A used link shows what its person receives now: topic names only, never the
    address (whoever holds an old link may not be that person)."""
    speaks(request, used.subscriber)
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
        resend.accept_resend(session, email=email)
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
        return link_problem(request, exc)
    speaks(request, view.subscriber)
    return render(request, "public/confirm.html", view=view, token=token)


@router.post("/confirm/{token}", response_class=HTMLResponse, dependencies=[CsrfProtected])
def confirm(request: Request, token: str, session: SessionDep, form: FormDep) -> HTMLResponse:
    ticked = {int(str(v)) for v in form.getlist("sharing") if str(v).isdigit()}
    try:
        events = confirmation.confirm(session, token=token, sharing_topic_ids=ticked)
    except confirmation.TokenUsed as used:
        return _link_used(request, session, used)
    except signing.InvalidToken as exc:
        return link_problem(request, exc)
    subscriber = confirmation.subscriber_of(session, token)
    assert subscriber is not None  # confirm() just found them
    speaks(request, subscriber)
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
