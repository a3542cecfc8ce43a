"""Sponsor text cannot break out of an HTML attribute: hostile creatives are refused at
the edge (quotes and control characters in addresses, markup-breaking headlines kept as
text), and whatever reaches the email is filled into the compiled HTML after MJML,
escaped for its attribute. The proof parses the email a subscriber gets: a hostile
creative yields exactly the elements and attribute names a plain one does."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from pydantic import ValidationError

from app.config import get_settings
from app.db import session_scope
from app.mailing.templates import fill
from app.marketplace.models import CreativeInput
from app.newsletters import service as newsletters
from app.newsletters.models import Issue
from app.newsletters.render import PlacedCreative
from tests.marketplace.factories import CREATIVE, make_slots

HOSTILE_HEADLINES = [
    'Bread" style="position:fixed;top:0;left:0;width:100%;height:100%" x="',
    "Bread' onmouseover='alert(1)' x='",
    "Bread&quot; onerror=&quot;alert(1)",
    "Bread</a><img src=x onerror=alert(1)>",
    "{{ unsubscribe_url }} {% if 1 %}x{% endif %}",
]
HOSTILE_IMAGES = [
    'https://img.example/a.png"onerror="alert(1)',
    "https://img.example/a.png' onerror='alert(1)",
    "https://img.example/a.png&quot;onerror=&quot;alert(1)",
]


class Shape(HTMLParser):
    """Every (tag, attribute name) pair in a document, counted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pairs: Counter[tuple[str, str]] = Counter()
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.pairs[(tag, "")] += 1
        for name, value in attrs:
            self.pairs[(tag, name)] += 1
            self.values.append(value or "")


def shape(html: str) -> Shape:
    parser = Shape()
    parser.feed(html)
    return parser


def email_with(issue_id: int, position: int, creative: PlacedCreative) -> str:
    with session_scope() as session:
        issue = session.get(Issue, issue_id)
        html, text = newsletters.compile_for(session, issue, {position: creative})
    html, _ = fill(
        html, text, postal_address=get_settings().postal_address, **newsletters.SAMPLE_PERSON
    )
    return html


def creative(headline: str, image_url: str | None) -> PlacedCreative:
    return PlacedCreative(
        member_name='Riverside "Bakery" <Co-op>',
        headline=headline,
        body="Fresh *bread* on Saturdays.",
        click_url="https://club.example/r/abc",
        image_url=image_url,
    )


@pytest.mark.parametrize("headline", HOSTILE_HEADLINES)
@pytest.mark.parametrize("image_url", HOSTILE_IMAGES)
def test_a_hostile_creative_adds_no_element_and_no_attribute(headline, image_url):
    issue, slots = make_slots()
    sponsor = slots[0]
    plain = shape(
        email_with(issue.id, sponsor.position, creative("Bread", "https://img.example/a.png"))
    )
    hostile_html = email_with(issue.id, sponsor.position, creative(headline, image_url))
    hostile = shape(hostile_html)
    assert hostile.pairs == plain.pairs
    # The text arrived as text: the alt and the image address hold it whole.
    assert headline in hostile.values  # braces too: data is never read as a placeholder
    assert image_url in hostile.values


@pytest.mark.parametrize(
    "image_url",
    HOSTILE_IMAGES[:2]  # the third is harmless text once escaped: the rendering test shows it
    + ["https://img.example/a b.png", "javascript:alert(1)", "https://img.example/\x00.png"],
)
def test_hostile_addresses_are_refused_at_the_edge(image_url):
    with pytest.raises(ValidationError) as error:
        CreativeInput(**{**CREATIVE, "image_url": image_url})
    assert [e["loc"][0] for e in error.value.errors()] == ["image_url"]
    with pytest.raises(ValidationError):
        CreativeInput(**{**CREATIVE, "link": image_url})


def test_addresses_are_stored_in_their_canonical_form_and_headlines_as_one_line():
    data = CreativeInput(
        **{
            **CREATIVE,
            "link": "https://Riverside.Example.org",
            "image_url": " https://IMG.example/a.png ",
        }
    )
    assert data.link == "https://riverside.example.org/"
    assert data.image_url == "https://img.example/a.png"
    with pytest.raises(ValidationError):
        CreativeInput(**{**CREATIVE, "headline": "Bread\nBcc: someone"})
