"""An issue's layout in the editor: adding, moving, removing (with undo) and copying blocks.

Positions are never reused: a removed block keeps its position until it is put back, and
new blocks go after every position the issue ever had. The marketplace keys an issue's
slots by block position, so this is what keeps a slot meaning one block (see
app/marketplace/layout.py for moves and removals that touch a slot).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import utcnow
from app.i18n import gettext as _
from app.newsletters.models import SLOT_KINDS, BlockKind, Issue, IssueBlock, Newsletter
from app.newsletters.service import NewsletterError, blocks_of, create_issue, require_draft

CONTENT_FIELDS = ("heading", "body", "url", "alt", "label")


def block_of(session: Session, issue: Issue, block_id: int) -> IssueBlock:
    block = session.get(IssueBlock, block_id)
    if block is None or block.issue_id != issue.id:
        raise NewsletterError(_("that block is not part of this issue"))
    return block


def lock_layout(session: Session, issue: Issue) -> None:
    """Hold the issue's row (on PostgreSQL) until commit, and read it again as stored:
    whoever changes a layout (or creates its slots) at the same time takes turns, so two
    new blocks never take the same position and a move never swaps with a neighbour that
    has just moved."""
    session.exec(
        select(Issue)
        .where(col(Issue.id) == issue.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def add_block(session: Session, issue: Issue, kind: BlockKind) -> IssueBlock:
    lock_layout(session, issue)
    require_draft(issue)
    last = session.exec(
        # Removed blocks count: their positions stay theirs (see the module docstring).
        select(func.max(IssueBlock.position)).where(IssueBlock.issue_id == issue.id)
    ).one()
    block = IssueBlock(issue_id=issue.id or 0, position=(last or 0) + 1, kind=kind)
    session.add(block)
    session.flush()
    return block


def remove_block(session: Session, issue: Issue, block_id: int) -> IssueBlock:
    """Take a block out of the issue; `restore_block` puts it back."""
    require_draft(issue)
    block = block_of(session, issue, block_id)
    if block.required:
        raise NewsletterError(_("this block is required and cannot be removed"))
    if block.removed_at is None:
        block.removed_at = utcnow()
        session.flush()
    return block


def restore_block(session: Session, issue: Issue, block_id: int) -> IssueBlock:
    require_draft(issue)
    block = block_of(session, issue, block_id)
    block.removed_at = None
    session.flush()
    return block


def neighbour(session: Session, issue: Issue, block_id: int, direction: int) -> IssueBlock | None:
    """The block a move swaps places with (None at either end), from the positions as
    stored now."""
    blocks = list(blocks_of(session, issue.id or 0, fresh=True))
    index = next((i for i, b in enumerate(blocks) if b.id == block_id), None)
    if index is None:
        raise NewsletterError(_("that block is not part of this issue"))
    other = index + (1 if direction > 0 else -1)
    return blocks[other] if 0 <= other < len(blocks) else None


def swap_positions(session: Session, issue: Issue, a: IssueBlock, b: IssueBlock) -> None:
    require_draft(issue)
    a.position, b.position = b.position, a.position
    session.flush()


def duplicate_issue(session: Session, issue: Issue) -> Issue:
    """A new draft of the same newsletter with a copy of this issue's subject, preheader
    and blocks (slot blocks come empty: bookings belong to the issue they were made in)."""
    newsletter = session.get(Newsletter, issue.newsletter_id)
    assert newsletter is not None
    copy = create_issue(session, newsletter, subject=issue.subject)
    copy.preheader = issue.preheader
    for block in session.exec(select(IssueBlock).where(IssueBlock.issue_id == copy.id)).all():
        session.delete(block)  # the skeleton a new issue starts with
    session.flush()
    for n, block in enumerate(blocks_of(session, issue.id or 0), start=1):
        content = {} if block.kind in SLOT_KINDS else {f: getattr(block, f) for f in CONTENT_FIELDS}
        session.add(
            IssueBlock(
                issue_id=copy.id or 0,
                position=n,
                kind=block.kind,
                required=block.required,
                **content,
            )
        )
    session.flush()
    return copy
