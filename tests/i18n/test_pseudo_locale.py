"""Under the pseudo-locale (`coopclub_lang=qps`, never in production) every translated
message shows in ⟦ ⟧. What the public pages show outside brackets must be data (topic
names, the address, consent texts, the SECURITY.md sections of the privacy page, the
language names of the switcher), never words someone forgot to wrap."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app.consent.texts import CONSENT_WORDING
from app.i18n import LANGUAGES
from tests.i18n.test_language_choice import subscribed

BRACKETED = re.compile(r"⟦[^⟧]*⟧", re.S)
NOT_WORDS = re.compile(r"[\s\d.,:;·“”\"'’()?!/#@&\-–—%]+")
DATA = [
    "Co-op Data Club",
    "Food co-ops",
    "Groceries and more",
    "Housing co-ops",
    "Housing",
    "Riverside news",
    "Unlisted list",
    *LANGUAGES.values(),
    *CONSENT_WORDING["en"].values(),
]


class VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes and accessible names (aria-label, title,
    alt, placeholder), leaving out scripts, styles and the privacy page's SECURITY.md."""

    SKIP = {"script", "style"}
    VOID = {"meta", "link", "input", "br", "img", "hr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: is its subtree skipped?
        self.found: list[str] = []

    def skipped(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skip = tag in self.SKIP or "privacy-section" in (attributes.get("class") or "")
        if not self.skipped() and not skip:
            for name in ("aria-label", "title", "alt", "placeholder"):
                if attributes.get(name):
                    self.found.append(attributes[name])
        if tag not in self.VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skipped() and data.strip():
            self.found.append(data)


def unwrapped(html: str, *data: str) -> list[str]:
    body = html[html.index("<body") :]
    parser = VisibleText()
    parser.feed(body)
    # A message may hold markup (a link): its brackets then span several text nodes.
    text = BRACKETED.sub(" ", "\n".join(parser.found))
    for value in sorted((*DATA, *data), key=len, reverse=True):
        text = text.replace(value, " ")
    return [line.strip() for line in text.split("\n") if NOT_WORDS.sub("", line)]


def test_the_public_pages_show_no_unwrapped_words(client, smtp, run_jobs):
    token = subscribed(client, smtp, run_jobs, "pseudo@example.org")
    client.cookies.set("coopclub_lang", "qps")
    pages = {
        path: client.get(path)
        for path in (
            "/",
            "/topics",
            "/subscribe",
            "/subscribe/food",
            "/login",
            "/privacy",
            "/archive",
            "/no-such-page",
            f"/preferences/{token}",
            "/confirm/not-a-token",
            f"/sharing/stop/1/{token}",
        )
    }
    problems = {}
    for path, page in pages.items():
        assert '<html lang="qps">' in page.text, path
        left = unwrapped(page.text, "pseudo@example.org", "Riverside Food Co-op")
        if left:
            problems[path] = left
    assert not problems, problems


def test_the_pseudo_locale_finds_unwrapped_words():
    """The check itself: a bare word is found, bracketed words and data are not."""
    html = "<body><h1>⟦Topics⟧</h1><p>Food co-ops</p><button>Save</button></body>"
    assert unwrapped(html) == ["Save"]
