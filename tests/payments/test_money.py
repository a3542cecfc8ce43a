"""Prices: typed in major units in every form, stored as integers of cents, never rounded
behind the person's back, bounded, and every refusal shown again on the form."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.config import get_settings
from app.db import session_scope
from app.marketplace.models import Slot
from app.members.models import Role
from app.newsletters.models import Newsletter
from app.payments.money import MoneyError, format_money, parse_price
from tests.marketplace.factories import make_slots
from tests.members.factories import log_in, make_account, post_form
from tests.newsletters.factories import make_topic


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("250", 25_000), ("250.00", 25_000), ("0.29", 29), ("0.5", 50), ("1,250.50", 125_050)],
)
def test_prices_are_read_exactly(typed, cents):
    assert parse_price(typed) == cents


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("0.285", "two decimals"),
        ("12.345", "two decimals"),
        ("inf", "number of dollars"),
        ("nan", "number of dollars"),
        ("-5", "number of dollars"),
        ("1e3", "number of dollars"),
        ("", "number of dollars"),
        ("12,34", "number of dollars"),
        ("99,999,999,999,999.00", "at most 100,000.00"),
    ],
)
def test_prices_we_cannot_take_say_why(typed, why):
    with pytest.raises(MoneyError, match=why):
        parse_price(typed)


def test_money_is_written_from_cents():
    assert format_money(125_050, "CAD") == "1,250.50 CAD"
    assert format_money(28_500, "CAD") == "285.00 CAD"  # round(0.285 * 100) gave 28


@pytest.fixture
def admin_client(client):
    log_in(client, make_account("admin@club.example.org", role=Role.admin))
    return client


def slot_price(slot_id: int) -> int:
    with session_scope() as session:
        return session.get(Slot, slot_id).price


@pytest.mark.parametrize("typed", ["0.285", "inf", "99999999999999.00", "12.345", "abc"])
def test_a_bad_reprice_is_422_with_the_input_kept_and_nothing_changed(admin_client, typed):
    _issue, slots = make_slots()
    page = post_form(
        admin_client, f"/admin/marketplace/slots/{slots[0].id}/price", {"price": typed}
    )
    assert page.status_code == 422
    assert f'value="{typed}"' in page.text and 'aria-invalid="true"' in page.text
    assert "Not repriced:" in page.text
    assert slot_price(slots[0].id) == 25_000


def test_a_reprice_in_dollars_and_cents_is_stored_in_cents(admin_client):
    _issue, slots = make_slots()
    page = post_form(
        admin_client, f"/admin/marketplace/slots/{slots[0].id}/price", {"price": "1,250.50"}
    )
    assert page.status_code == 200
    assert slot_price(slots[0].id) == 125_050
    assert "1,250.50 CAD" in admin_client.get("/admin/marketplace").text


def newsletter_form(topic_id: int, **prices: str) -> dict[str, str]:
    return {
        "name": "Commons",
        "slug": "commons",
        "sender_name": "Co-op Data Club",
        "sender_address": "news@club.example.org",
        "topics": str(topic_id),
        "sponsor_slots": "1",
        "classified_slots": "1",
        "currency": "CAD",
        "sponsor_price": "250.00",
        "classified_price": "50",
        **prices,
    }


def test_the_newsletter_form_takes_prices_like_every_other_form(admin_client):
    topic = make_topic("food")
    bad = post_form(
        admin_client, "/admin/newsletters/new", newsletter_form(topic.id, sponsor_price="0.285")
    )
    assert bad.status_code == 422
    assert 'value="0.285"' in bad.text and "two decimals" in bad.text
    assert "in cents" not in bad.text
    good = post_form(admin_client, "/admin/newsletters/new", newsletter_form(topic.id))
    assert good.status_code == 200
    with session_scope() as session:
        newsletter = session.exec(select(Newsletter)).one()
        assert (newsletter.sponsor_price, newsletter.classified_price) == (25_000, 5_000)
    edit = admin_client.get(f"/admin/newsletters/{newsletter.id}/edit")
    assert 'value="250.00"' in edit.text and 'value="50.00"' in edit.text


def test_the_maximum_price_is_a_setting(monkeypatch):
    monkeypatch.setattr(get_settings(), "max_price", 5_000)
    assert parse_price("50") == 5_000
    with pytest.raises(MoneyError, match="at most 50.00"):
        parse_price("50.01")
