"""The offer form speaks to people: the partner is picked from the active members, and a
past date, an overlong purpose and a duplicate offer each come back marked on the form,
all at once, with what was typed kept."""

from datetime import timedelta
from html import unescape

from sqlmodel import select

from app.db import session_scope, utcnow
from app.members.models import MemberStatus
from app.sharing.models import SharingAgreement
from tests.members.factories import log_in, make_account, make_member, post_form
from tests.sharing.helpers import owned_topic


def _offers() -> int:
    with session_scope() as session:
        return len(session.exec(select(SharingAgreement)).all())


def _form(**changes):
    form = {
        "receiver": "bakery-coop",
        "topic": "orchard-news",
        "purpose_category": "events",
        "purpose": "Invitations to the harvest fair.",
        "ends_on": (utcnow() + timedelta(days=60)).date().isoformat(),
    }
    return {**form, **changes}


def test_partners_are_the_other_active_members(client):
    orchard = make_member("orchard-coop", name="Orchard Co-op")
    make_member("bakery-coop", name="Bakery Co-op")
    make_member("applied-coop", name="Applied Co-op", status=MemberStatus.applied)
    owned_topic("orchard-news", orchard)
    log_in(client, make_account("owner@orchard.example.org", member=orchard))
    page = client.get("/member/sharing").text
    assert '<option value="bakery-coop">Bakery Co-op</option>' in page
    assert "applied-coop" not in page and '<option value="orchard-coop"' not in page
    refused = post_form(client, "/member/sharing", _form(receiver="applied-coop"))
    assert refused.status_code == 422 and "from the list" in refused.text


def test_every_problem_comes_back_at_once_with_the_input_kept(client):
    orchard = make_member("orchard-coop")
    make_member("bakery-coop")
    owned_topic("orchard-news", orchard)
    log_in(client, make_account("owner@orchard.example.org", member=orchard))
    long_purpose = "Harvest " * 625  # 5,000 characters
    past = (utcnow() - timedelta(days=3)).date().isoformat()
    refused = post_form(
        client, "/member/sharing", _form(purpose=long_purpose, ends_on=past, receiver="")
    )
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert "Keep the purpose to 300 characters; this one has 4,999." in text
    assert "The last day must be in the future." in text
    assert "Choose the member co-op to share with from the list." in text
    assert long_purpose.strip() in text  # in the textarea again, not cut to 300
    assert f'value="{past}"' in text
    assert 'aria-invalid="true" aria-describedby="ends_on-error"' in text
    assert _offers() == 0


def test_a_duplicate_offer_is_refused_with_a_reason(client):
    orchard = make_member("orchard-coop")
    make_member("bakery-coop", name="Bakery Co-op")
    owned_topic("orchard-news", orchard)
    log_in(client, make_account("owner@orchard.example.org", member=orchard))
    assert post_form(client, "/member/sharing", _form(), follow_redirects=False).status_code == 303
    again = post_form(client, "/member/sharing", _form(purpose="Same again."))
    assert again.status_code == 422
    assert "You already share this audience with Bakery Co-op" in unescape(again.text)
    assert "Same again." in again.text
    assert _offers() == 1
    # Another audience for the same co-op is a different offer.
    other = post_form(client, "/member/sharing", _form(topic=""), follow_redirects=False)
    assert other.status_code == 303 and _offers() == 2
