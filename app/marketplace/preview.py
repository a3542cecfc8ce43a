"""A booking's creative as a subscriber will see it: the issue compiled with the creative
in its slot and filled for a sample reader, exactly as the send pipeline does. Approvers
and the member see the same page, served on its own URL with the email policy (inline
styles, no script) inside a sandboxed frame.

A draft (what the member typed but has not submitted) travels to the frame's URL in a
signed token, so the frame shows what was typed and nobody can make it show anything else.
"""

from __future__ import annotations

from markupsafe import escape
from sqlmodel import Session

from app import signing
from app.config import get_settings
from app.mailing.templates import fill
from app.marketplace import placement, service
from app.marketplace.models import Booking, CreativeInput
from app.members.models import Member
from app.newsletters import service as newsletters
from app.newsletters.render import IssueRenderError, PlacedCreative

DRAFT_MAX_AGE = 3600  # a preview link made from typed values lasts an hour


def draft_token(booking: Booking, data: CreativeInput) -> str:
    return signing.sign(signing.Purpose.creative_preview, {"b": booking.id, "c": data.model_dump()})


def draft_from(booking: Booking, token: str) -> CreativeInput | None:
    try:
        payload = signing.unsign(signing.Purpose.creative_preview, token, max_age=DRAFT_MAX_AGE)
    except signing.InvalidToken:
        return None
    if not isinstance(payload, dict) or payload.get("b") != booking.id:
        return None
    try:
        return CreativeInput.model_validate(payload.get("c"))
    except ValueError:
        return None


def placed(
    session: Session, booking: Booking, draft: CreativeInput | None
) -> PlacedCreative | None:
    """The creative as it is placed: the draft, else the stored creative, else none."""
    member = session.get(Member, booking.member_id)
    assert member is not None
    if draft is not None:
        return PlacedCreative(
            member_name=member.name,
            headline=draft.headline,
            body=draft.body,
            click_url=draft.link,
            image_url=draft.image_url,
        )
    creative = service.creative_of(session, booking)
    return placement.placed_creative(member, creative) if creative else None


def email_html(session: Session, booking: Booking, draft: CreativeInput | None = None) -> str:
    """The issue's email with this booking's creative in its slot, for a sample reader."""
    slot = service.slot_of(session, booking)
    issue = service.issue_of(session, slot)
    creative = placed(session, booking, draft)
    creatives = {slot.position: creative} if creative else {}
    try:
        html, text = newsletters.compile_for(session, issue, creatives)
    except IssueRenderError as exc:
        shown = (
            f"<h1>{escape(creative.headline)}</h1><p>{escape(creative.body)}</p>"
            if creative
            else ""
        )
        return (
            "<!doctype html><meta charset='utf-8'><p><em>The issue itself is still being "
            f"written ({escape(str(exc))}); this is the creative on its own.</em></p>{shown}"
        )
    html, _text = fill(
        html, text, postal_address=get_settings().postal_address, **newsletters.SAMPLE_PERSON
    )
    return html
