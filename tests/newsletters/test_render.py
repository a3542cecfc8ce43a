"""Compiling an issue: sanitised, inert content; a text twin with the same words."""

from html.parser import HTMLParser

import pytest

from app.mailing.templates import fill
from app.newsletters.models import BlockKind, Issue, IssueBlock, Newsletter
from app.newsletters.render import IssueRenderError, PlacedCreative, compile_issue

NEWSLETTER = Newsletter(
    id=1,
    name="The Co-op Commons",
    slug="commons",
    sender_name="Club",
    sender_address="news@club.example.org",
)


def _issue(*blocks: IssueBlock, subject: str = "Spring at the co-ops") -> tuple[str, str]:
    issue = Issue(id=1, newsletter_id=1, number=3, subject=subject, preheader="What grows")
    return compile_issue(
        newsletter=NEWSLETTER,
        issue=issue,
        blocks=list(blocks),
        topic_names=["Food co-ops"],
        web_url="https://club.test/archive/commons/3",
    )


def _text(position: int, body: str, heading: str = "") -> IssueBlock:
    return IssueBlock(
        issue_id=1, position=position, kind=BlockKind.text, body=body, heading=heading
    )


def _fill(html: str, text: str, **extra) -> tuple[str, str]:
    context = dict(
        first_name="Ana",
        personal=True,
        unsubscribe_url="https://club.test/u/TOKEN",
        preferences_url="https://club.test/preferences/TOKEN",
        postal_address="1 Lane",
    )
    context.update(extra)
    return fill(html, text, **context)


def test_markdown_is_sanitised_in_html_and_readable_in_text():
    html, text = _fill(
        *_issue(
            _text(
                1,
                "Fresh **greens** from [the farm](https://farm.example.org)"
                " <script>alert(1)</script> [x](javascript:alert(2))",
            )
        )
    )
    assert "<strong>greens</strong>" in html
    assert '<a href="https://farm.example.org"' in html
    assert "<script>" not in html and 'href="javascript:' not in html
    assert "Fresh greens from the farm (https://farm.example.org)" in text


def test_content_is_never_read_as_a_placeholder():
    html, text = _fill(
        *_issue(
            _text(1, "Try {{ unsubscribe_url }} and {% if 1 %}x{% endif %}", heading="{{ 7*7 }}"),
            subject="Hi {{ first_name }}",
        )
    )
    for rendered in (html, text):
        assert "{{ unsubscribe_url }}" in rendered
        assert "{% if 1 %}" in rendered
        assert "{{ 7*7 }}" in rendered and "49" not in rendered
        assert "Hi {{ first_name }}" in rendered


def test_personal_fields_and_first_name_only_when_given():
    compiled = _issue(_text(1, "Hello"))
    html, text = _fill(*compiled)
    assert "Hi Ana," in html and "Hi Ana," in text
    assert "https://club.test/u/TOKEN" in html and "https://club.test/u/TOKEN" in text
    html, text = _fill(*compiled, first_name=None)
    assert "Hello," in text and "Hi ," not in text
    web, _ = _fill(*compiled, personal=False, first_name=None)
    assert "/u/TOKEN" not in web and "/preferences/" not in web
    assert "https://club.test/archive/commons/3" in web


def test_placed_creatives_are_sanitised_and_link_through_our_redirect():
    creative = PlacedCreative(
        member_name="Riverside Food Co-op",
        headline="Bulk beans <b>now</b>",
        body="Come **see** us <img src=x onerror=alert(1)>",
        click_url="https://club.test/r/abc",
    )
    slot = IssueBlock(issue_id=1, position=2, kind=BlockKind.sponsor)
    html, text = _fill(
        *compile_issue(
            newsletter=NEWSLETTER,
            issue=Issue(id=1, newsletter_id=1, number=3, subject="S"),
            blocks=[_text(1, "Hi"), slot],
            topic_names=[],
            web_url="https://club.test/a",
            creatives={2: creative},
        )
    )
    assert "Sponsored by Riverside Food Co-op" in html
    assert "Bulk beans &lt;b&gt;now&lt;/b&gt;" in html
    assert "<img src=x" not in html  # shown as inert text, never as a tag
    assert 'href="https://club.test/r/abc"' in html
    assert "[Sponsored · Riverside Food Co-op]" in text and "https://club.test/r/abc" in text


def test_an_empty_optional_text_block_is_left_out():
    html, text = _fill(*_issue(_text(1, "Hi"), _text(2, "   ")))
    assert "Hi" in text


def test_an_unbooked_slot_renders_nothing():
    html, text = _fill(
        *_issue(_text(1, "Hi"), IssueBlock(issue_id=1, position=2, kind=BlockKind.classified))
    )
    assert "CLASSIFIED" not in html and "Classified" not in text


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            IssueBlock(issue_id=1, position=1, kind=BlockKind.text, body="  ", required=True),
            "required",
        ),
        (_text(1, "[](https://example.org)"), "renders to nothing"),
        (
            IssueBlock(
                issue_id=1, position=1, kind=BlockKind.image, url="http://x.org/a.png", alt="A"
            ),
            "https://",
        ),
        (
            IssueBlock(issue_id=1, position=1, kind=BlockKind.image, url="https://x.org/a.png"),
            "alt text",
        ),
        (IssueBlock(issue_id=1, position=1, kind=BlockKind.button, url="https://x.org"), "label"),
        (
            IssueBlock(
                issue_id=1, position=1, kind=BlockKind.button, label="Go", url="javascript:alert(1)"
            ),
            "https://",
        ),
    ],
)
def test_problems_are_reported_per_block(block, message):
    with pytest.raises(IssueRenderError) as caught:
        _issue(block)
    (problem,) = caught.value.problems
    assert problem.position == 1
    assert message in problem.message


def test_the_html_parses_and_carries_what_every_club_email_must():
    html, text = _fill(*_issue(_text(1, "Body text here")))

    class Collector(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links, self.open = [], []

        def handle_starttag(self, tag, attrs):
            if tag == "a":
                self.links.append(dict(attrs).get("href"))

    collector = Collector()
    collector.feed(html)
    collector.close()
    assert "https://club.test/u/TOKEN" in collector.links
    assert "https://club.test/preferences/TOKEN" in collector.links
    assert "1 Lane" in html and "1 Lane" in text
    assert html.lstrip().lower().startswith("<!doctype html>")
