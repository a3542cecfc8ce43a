"""The editor's block actions keep what was typed, ask before removing, can be undone, and
never drop a live booking silently; issues can be duplicated; a refused schedule keeps
its fields."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from app.db import session_scope, utcnow
from app.marketplace.models import Booking, BookingStatus, Slot
from app.members.models import Role
from app.newsletters.models import BlockKind, Issue, IssueBlock, IssueStatus
from tests.marketplace.factories import make_booking, make_slots
from tests.members.factories import log_in, make_account, make_member, post_form
from tests.test_confirmation import confirm_page_form, press_confirm


def _admin(client):
    log_in(client, make_account("editor@club.example.org", role=Role.admin))


def _blocks(issue_id, *, removed=False):
    with session_scope() as session:
        rows = session.exec(
            select(IssueBlock).where(IssueBlock.issue_id == issue_id).order_by(IssueBlock.position)
        ).all()
        return [b for b in rows if (b.removed_at is not None) == removed]


def _typed(issue_id, **changes):
    """The editor form as the browser sends it, with `changes` typed in."""
    form = {"subject": "Harvest news", "preheader": ""}
    for block in _blocks(issue_id):
        for field in ("heading", "body", "url", "alt", "label"):
            form[f"block-{block.id}-{field}"] = getattr(block, field)
    form.update(changes)
    return form


def _slot_positions(issue_id) -> dict[int, str]:
    with session_scope() as session:
        slots = session.exec(select(Slot).where(Slot.issue_id == issue_id)).all()
        return {s.position: s.status.value for s in slots}


def test_moving_and_adding_blocks_keep_what_was_typed(client):
    issue, _ = make_slots(schedule=False)
    _admin(client)
    first, sponsor, text, *_ = _blocks(issue.id)
    form = _typed(
        issue.id, subject="Typed, not saved", **{f"block-{text.id}-body": "Typed body text"}
    )
    moved = post_form(
        client,
        f"/admin/issues/{issue.id}/blocks/{text.id}/move",
        {**form, "direction": "up"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    with session_scope() as session:
        assert session.get(Issue, issue.id).subject == "Typed, not saved"
    after = {b.id: b for b in _blocks(issue.id)}
    assert after[text.id].body == "Typed body text"
    assert (after[text.id].position, after[sponsor.id].position) == (2, 3)
    # The sponsor slot moved with its block: members see it at the editor's number.
    assert _slot_positions(issue.id)[3] == "open" and 2 not in _slot_positions(issue.id)
    page = client.get(f"/admin/issues/{issue.id}")
    assert "Block 3 · Sponsor slot" in page.text

    added = post_form(
        client,
        f"/admin/issues/{issue.id}/blocks",
        {**_typed(issue.id, subject="Typed again"), "kind": "button"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    with session_scope() as session:
        assert session.get(Issue, issue.id).subject == "Typed again"
    assert _blocks(issue.id)[-1].kind == BlockKind.button


def test_an_action_with_unsaveable_input_shows_it_again_and_waits(client):
    issue, _ = make_slots(schedule=False)
    _admin(client)
    text = _blocks(issue.id)[2]
    form = _typed(issue.id, subject="  ", **{f"block-{text.id}-body": "My long draft paragraph"})
    refused = post_form(
        client, f"/admin/issues/{issue.id}/blocks/{text.id}/move", {**form, "direction": "up"}
    )
    assert refused.status_code == 422
    assert "give the issue a subject" in refused.text
    assert "My long draft paragraph" in refused.text  # the typing is on the page again
    assert {b.id: b.position for b in _blocks(issue.id)}[text.id] == 3  # not moved


def test_removing_a_block_asks_first_and_can_be_undone(client):
    issue, _ = make_slots(schedule=False)
    _admin(client)
    text = _blocks(issue.id)[2]
    form = _typed(issue.id, **{f"block-{text.id}-heading": "Going away"})
    asked = post_form(client, f"/admin/issues/{issue.id}/blocks/{text.id}/delete", form)
    assert asked.status_code == 200 and "Remove block 3 (text)?" in asked.text
    assert len(_blocks(issue.id)) == 5
    removed = press_confirm(client, asked.text)
    assert removed.status_code == 303
    assert removed.headers["location"] == f"/admin/issues/{issue.id}?removed={text.id}#undo"
    assert [b.id for b in _blocks(issue.id, removed=True)] == [text.id]
    page = client.get(removed.headers["location"])
    assert "Undo: put block 3 back" in page.text and "“Going away”" in page.text

    back = post_form(
        client,
        f"/admin/issues/{issue.id}/blocks/{text.id}/restore",
        _typed(issue.id),
        follow_redirects=False,
    )
    assert back.status_code == 303
    restored = {b.id: b for b in _blocks(issue.id)}[text.id]
    assert (restored.position, restored.heading) == (3, "Going away")
    # A new block never takes a removed block's position.
    post_form(client, f"/admin/issues/{issue.id}/blocks/{text.id}/delete", {"confirmed": "yes"})
    post_form(client, f"/admin/issues/{issue.id}/blocks", {"kind": "text"})
    assert _blocks(issue.id)[-1].position == 6


def test_removing_an_unbooked_slot_withdraws_it_and_undo_offers_it_again(client):
    issue, _ = make_slots(schedule=False)
    _admin(client)
    sponsor = _blocks(issue.id)[1]
    post_form(client, f"/admin/issues/{issue.id}/blocks/{sponsor.id}/delete", {"confirmed": "yes"})
    assert _slot_positions(issue.id)[2] == "withdrawn"
    reopen = post_form(client, f"/admin/marketplace/slots/{_slot_id(issue.id, 2)}/reopen")
    assert "put the block back" in reopen.text
    post_form(client, f"/admin/issues/{issue.id}/blocks/{sponsor.id}/restore")
    assert _slot_positions(issue.id)[2] == "open"


def _slot_id(issue_id, position) -> int:
    with session_scope() as session:
        return session.exec(
            select(Slot.id).where(Slot.issue_id == issue_id, Slot.position == position)
        ).one()


def test_a_booked_slot_block_is_removed_only_by_cancelling_the_booking(client, smtp, run_jobs):
    issue, slots = make_slots(schedule=False)
    member = make_member("harbour-bakery", name="Harbour Bakery")
    make_account("owner@harbour.example.org", member=member)
    booking = make_booking(member, slots[0], upto=BookingStatus.paid)
    _admin(client)
    sponsor, text = _blocks(issue.id)[1], _blocks(issue.id)[2]

    page = client.get(f"/admin/issues/{issue.id}")
    assert "Booked by Harbour Bakery" in page.text
    assert "Cancel Harbour Bakery&#39;s booking and remove block 2?" in page.text

    # Moving it, or moving a neighbour into its place, is refused; the typing is saved.
    for block, direction in ((sponsor, "down"), (text, "up")):
        refused = post_form(
            client,
            f"/admin/issues/{issue.id}/blocks/{block.id}/move",
            {**_typed(issue.id, subject="Kept"), "direction": direction},
        )
        assert "Not moved (your changes are saved)" in refused.text
        assert "booked by Harbour Bakery" in refused.text
    assert [b.id for b in _blocks(issue.id)][1:3] == [sponsor.id, text.id]

    # Removing it without naming the booking (a stale page, a script) only asks.
    asked = post_form(
        client, f"/admin/issues/{issue.id}/blocks/{sponsor.id}/delete", {"confirmed": "yes"}
    )
    assert asked.status_code == 200 and "cancels that booking" in asked.text
    _, fields = confirm_page_form(asked.text)
    assert ("cancel_booking", str(booking.id)) in fields
    assert len(_blocks(issue.id)) == 5
    with session_scope() as session:
        assert session.get(Booking, booking.id).status == BookingStatus.paid

    done = press_confirm(client, asked.text)
    assert done.status_code == 303
    with session_scope() as session:
        assert session.get(Booking, booking.id).status in (
            BookingStatus.cancelled,
            BookingStatus.refunded,
        )
    assert sponsor.id in [b.id for b in _blocks(issue.id, removed=True)]
    run_jobs()
    assert smtp.wait_for("owner@harbour.example.org")
    # The marketplace no longer offers (or lists as awaiting anything) a removed position.
    assert _slot_positions(issue.id)[2] == "withdrawn"


def test_an_issue_is_duplicated_as_a_new_draft(client):
    issue, slots = make_slots(schedule=True)
    _admin(client)
    text = _blocks(issue.id)[0]
    with session_scope() as session:
        session.get(IssueBlock, text.id).body = "Welcome to the harvest issue."
    copied = post_form(client, f"/admin/issues/{issue.id}/duplicate", follow_redirects=False)
    assert copied.status_code == 303
    copy_id = int(re.search(r"/admin/issues/(\d+)$", copied.headers["location"]).group(1))
    with session_scope() as session:
        copy = session.get(Issue, copy_id)
        assert copy.status == IssueStatus.draft and copy.number == issue.number + 1
    assert [(b.position, b.kind, b.body) for b in _blocks(copy_id)][:2] == [
        (1, BlockKind.text, "Welcome to the harvest issue."),
        (2, BlockKind.sponsor, ""),
    ]


def test_a_refused_schedule_keeps_the_date_and_timezone(client):
    issue, _ = make_slots(schedule=False)
    _admin(client)
    past = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    refused = post_form(
        client,
        f"/admin/issues/{issue.id}/schedule",
        {
            **_typed(issue.id, subject="Typed before scheduling"),
            "when": past,
            "timezone": "Europe/Berlin",
        },
    )
    assert refused.status_code == 422 and "already passed" in refused.text
    assert f'value="{past}"' in refused.text
    assert "<option selected>Europe/Berlin</option>" in refused.text
    with session_scope() as session:
        assert session.get(Issue, issue.id).subject == "Typed before scheduling"
