"""The editor's block actions: add, move, remove (asked first, undoable) and put back.

Each one is a button of the editor form, so it first saves what was typed (see
app/newsletters/editor.py). Moves and removals go through app/marketplace/layout.py,
which keeps slots with their blocks and refuses to drop a live booking silently.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.admin_labels import state_name
from app.auth.deps import RequireAdmin
from app.confirmation import Confirmation, PostedForm, ask, for_templates, unless_confirmed
from app.db import SessionDep
from app.i18n import gettext as _
from app.marketplace import layout
from app.marketplace.api import REFUSALS
from app.newsletters import blocks as issue_blocks
from app.newsletters import service
from app.newsletters.editor import KIND_NAMES, issue_and_newsletter, save_typed
from app.newsletters.models import BlockKind, Issue, IssueBlock
from app.web import CsrfProtected, redirect

router = APIRouter(prefix="/admin", include_in_schema=False)


@for_templates
def remove_block_confirmation(
    issue: Issue, block: IssueBlock, booked: layout.BookedBlock | None
) -> Confirmation:
    kind = str(KIND_NAMES[block.kind.value]).lower()
    back = f"/admin/issues/{issue.id}#block-{block.id}"
    position = block.position
    if booked is None:
        return Confirmation(
            title=_("Remove block %(position)s (%(kind)s)?", position=position, kind=kind),
            message=_(
                "It leaves the issue along with its content. Right after, you can put "
                "it back with “Undo”."
            ),
            button=_("Remove block %(position)s", position=position),
            back=back,
        )
    member, status = booked.member_name, state_name(booked.status)
    message = _(
        "Block %(position)s is booked by %(member)s (%(status)s). Removing it cancels that "
        "booking and emails %(member)s.",
        position=position,
        member=member,
        status=status,
    )
    if booked.paid:
        message += " " + _("The payment is refunded the way it was made.")
    message += " " + _(
        "Putting the block back later offers the slot again but does not bring the booking back."
    )
    return Confirmation(
        title=_(
            "Cancel %(member)s's booking and remove block %(position)s?",
            member=member,
            position=position,
        ),
        message=message,
        button=_("Cancel the booking and remove the block"),
        back=back,
    )


@router.post("/issues/{issue_id}/blocks", dependencies=[CsrfProtected])
def add_block(
    request: Request,
    issue_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    form: PostedForm,
    kind: Annotated[BlockKind, Form()],
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_typed(request, session, issue, newsletter, form)) is not None:
        return problem
    block = issue_blocks.add_block(session, issue, kind)
    return redirect(
        f"/admin/issues/{issue_id}#block-{block.id}",
        _(
            "Added block %(position)s (%(kind)s) at the end; your changes are saved.",
            position=block.position,
            kind=str(KIND_NAMES[kind.value]).lower(),
        ),
    )


@router.post("/issues/{issue_id}/blocks/{block_id}/delete", dependencies=[CsrfProtected])
def remove_block(
    request: Request,
    issue_id: int,
    block_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    form: PostedForm,
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_typed(request, session, issue, newsletter, form)) is not None:
        return problem
    try:
        block = issue_blocks.block_of(session, issue, block_id)
        booked = layout.booked_blocks(session, issue).get(block_id)
        page = unless_confirmed(request, form, remove_block_confirmation(issue, block, booked))
        if page is not None:
            return page
        cancel = str(form.get("cancel_booking", ""))
        layout.remove_block(
            session, issue, block_id, cancel_booking=int(cancel) if cancel.isdigit() else None
        )
    except layout.BookedSlot as exc:
        # Booked since the page was drawn (or the booking was not named): ask about it.
        question = remove_block_confirmation(issue, exc.block, exc.booked)
        return ask(request, form, question, extra={"cancel_booking": str(exc.booked.booking_id)})
    except service.NewsletterError as exc:
        return redirect(f"/admin/issues/{issue_id}", str(exc), "error")
    except REFUSALS as exc:
        session.rollback()
        return redirect(
            f"/admin/issues/{issue_id}", _("Not removed: %(problem)s", problem=str(exc)), "error"
        )
    message = _("Block %(position)s removed.", position=block.position)
    if booked is not None:
        message += " " + _(
            "%(member)s's booking is cancelled and they are emailed.",
            member=booked.member_name,
        )
    return redirect(f"/admin/issues/{issue_id}?removed={block_id}#undo", message)


@router.post("/issues/{issue_id}/blocks/{block_id}/restore", dependencies=[CsrfProtected])
def restore_block(
    request: Request,
    issue_id: int,
    block_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    form: PostedForm,
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_typed(request, session, issue, newsletter, form)) is not None:
        return problem
    try:
        block = layout.restore_block(session, issue, block_id)
    except service.NewsletterError as exc:
        return redirect(f"/admin/issues/{issue_id}", str(exc), "error")
    return redirect(
        f"/admin/issues/{issue_id}#block-{block_id}",
        _("Block %(position)s is back.", position=block.position),
    )


@router.post("/issues/{issue_id}/blocks/{block_id}/move", dependencies=[CsrfProtected])
def move_block(
    request: Request,
    issue_id: int,
    block_id: int,
    session: SessionDep,
    admin: RequireAdmin,
    form: PostedForm,
    direction: Annotated[str, Form()] = "down",
) -> Response:
    issue, newsletter = issue_and_newsletter(session, issue_id)
    if (problem := save_typed(request, session, issue, newsletter, form)) is not None:
        return problem
    try:
        layout.move_block(session, issue, block_id, -1 if direction == "up" else 1)
    except layout.BookedSlot as exc:
        return redirect(
            f"/admin/issues/{issue_id}#block-{block_id}",
            _("Not moved (your changes are saved): %(problem)s.", problem=str(exc)),
            "error",
        )
    except service.NewsletterError as exc:
        return redirect(f"/admin/issues/{issue_id}", str(exc), "error")
    return redirect(f"/admin/issues/{issue_id}#block-{block_id}")
