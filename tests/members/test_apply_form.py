"""/apply speaks to people: every problem at once, in plain words, input kept; the logo
must be https (as its hint says), since our pages load only https images."""

from html import unescape

from sqlmodel import select

from app.db import session_scope
from app.members.models import Member
from tests.members.factories import make_account, make_member
from tests.subscribers.helpers import hidden


def _apply(client, **fields):
    page = client.get("/apply")
    form = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "name": "Harbour Bakery",
        "slug": "harbour-bakery",
        "owner_email": "owner@harbour.example.org",
        "owner_name": "Robin",
        **fields,
    }
    return client.post("/apply", data=form)


def test_every_problem_at_once_in_plain_words_with_input_kept(client):
    make_member("riverside-food")
    make_account("taken@example.org")
    long_name = "B" * 250
    answer = _apply(
        client,
        name=long_name,
        slug="riverside-food",
        owner_email="taken@example.org",
        logo_url="http://img.example.org/logo.png",
        website="not a web address",
    )
    assert answer.status_code == 422
    text = unescape(answer.text)
    assert "Please correct these 4 things" in text
    assert "Name: keep it to 200 characters; this has 250." in text
    assert "Another co-op already uses this web address." in text
    # Whether the address has an account is for its owner to read, in the emailed answer.
    assert "This address already belongs" not in text and 'id="owner_email-error"' not in text
    assert "Logo address: the logo must be at an https:// address" in text
    assert "Website: enter a full web address starting with https://." in text
    assert "String should" not in text and "Value error" not in text
    assert f'value="{long_name}"' in text and 'value="http://img.example.org/logo.png"' in text
    with session_scope() as session:
        assert session.exec(select(Member).where(Member.name == long_name)).first() is None


def test_an_https_logo_and_an_http_website_are_accepted(client):
    answer = _apply(
        client, logo_url="https://img.example.org/logo.png", website="http://harbour.example.org"
    )
    assert answer.status_code == 202
