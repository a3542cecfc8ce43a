"""A member pastes both signup snippets into its own website (another origin: a plain
http.server on 127.0.0.2), and visitors subscribe through each in Chromium: the form
lands on the Club's thank-you page, the iframe sizes itself to its content and thanks
the visitor in place; the confirmation mail arrives, and after confirming, each person
is the member's recruit with credits pending (issue 17, finding 3; issue 14, finding 9).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.members.models import Role
from app.subscribers.embed import EmbedForm, embed_snippets
from tests.e2e.conftest import audit, axe_violations, link_from_mail
from tests.e2e.test_member import log_in_by_mail
from tests.members.factories import make_account, make_member
from tests.newsletters.factories import make_topic
from tests.recruiting.helpers import recruits

pytestmark = pytest.mark.browser

OWNER = "owner@riverside.example.org"
IFRAME = "iframe[data-coopclub-signup]"
MEMBER_SITE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Riverside Food Co-op</title></head>
<body>
<main>
<h1>Riverside Food Co-op</h1>
<section><h2>Our newsletter</h2>
{form}
</section>
<section><h2>More newsletters</h2>
{iframe}
</section>
</main>
</body>
</html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def member_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A website on another loopback origin; write index.html into the folder."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def _copy(page, key: str) -> str:
    page.get_by_role("button", name=f"Copy the {key} snippet").click()
    expect(page.locator(f"#embed-{key}-status")).to_have_text("Copied to your clipboard.")
    return page.evaluate("() => navigator.clipboard.readText()")


def _frame_fits(page) -> None:
    """The iframe is as tall as its content: nothing cut off, no inner scrolling."""
    page.wait_for_function(
        """(selector) => {
            const frame = document.querySelector(selector);
            const inner = frame.contentDocument;  // null: cross-origin, so ask the size
            return inner === null && frame.style.height.endsWith('px');
        }""",
        arg=IFRAME,
    )
    frame = page.frame_locator(IFRAME)
    content = frame.locator("html").evaluate("el => Math.ceil(el.getBoundingClientRect().height)")
    page.wait_for_function(
        "([selector, height]) => document.querySelector(selector).clientHeight === height",
        arg=[IFRAME, content],
    )


def _confirm_from_mail(page, smtp, run_jobs, address: str) -> None:
    run_jobs()
    [mail] = smtp.wait_for(address)
    page.goto(link_from_mail(mail, r"/confirm/"))
    audit(page)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    audit(page)


def test_both_snippets_work_as_pasted_on_another_origin(
    page, other_page, smtp, run_jobs, member_site
):
    site_url, site_dir = member_site
    coop = make_member("riverside", name="Riverside Food Co-op")
    make_account(OWNER, role=Role.owner, member=coop)
    make_topic("food", "Food co-ops")
    make_topic("housing", "Housing co-ops")

    # The member chooses one topic for the form, two (a picker) for the iframe.
    log_in_by_mail(page, smtp, run_jobs, OWNER)
    audit(page)
    page.get_by_role("checkbox", name="Housing co-ops").uncheck()
    page.get_by_role("button", name="Make the snippets for these topics").click()
    audit(page)
    form_snippet = _copy(page, "form")
    assert 'name="topics" value="food"' in form_snippet and "housing" not in form_snippet
    page.get_by_role("checkbox", name="Housing co-ops").check()
    page.get_by_role("button", name="Make the snippets for these topics").click()
    audit(page)
    iframe_snippet = _copy(page, "iframe")
    (site_dir / "index.html").write_text(
        MEMBER_SITE.format(form=form_snippet, iframe=iframe_snippet), encoding="utf-8"
    )

    # A visitor subscribes with the plain form and lands on the Club's thank-you page.
    visitor = other_page
    visitor.goto(site_url)
    audit(visitor)
    visitor.get_by_label("Email address").fill("form-visitor@example.org")
    visitor.get_by_role("button", name="Subscribe").click()
    expect(visitor.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert visitor.url.endswith("/subscribe/embed/riverside")
    audit(visitor)
    _confirm_from_mail(visitor, smtp, run_jobs, "form-visitor@example.org")

    # Another subscribes inside the iframe, which fits its content before and after.
    visitor.goto(site_url)
    audit(visitor)
    _frame_fits(visitor)
    frame = visitor.frame_locator(IFRAME)
    button = frame.get_by_role("button", name="Subscribe").bounding_box()
    box = visitor.locator(IFRAME).bounding_box()
    assert box["y"] <= button["y"] and button["y"] + button["height"] <= box["y"] + box["height"]
    frame_page = visitor.frame(url=lambda url: "/subscribe/embed/" in url)
    assert axe_violations(frame_page) == []
    frame.get_by_label("Email address").fill("frame-visitor@example.org")
    frame.get_by_role("checkbox", name="Housing co-ops").check()
    visitor.wait_for_timeout(2_100)  # a person takes a moment; faster forms are treated as bots
    frame.get_by_role("button", name="Subscribe").click()
    expect(frame.get_by_role("heading", name="Check your inbox")).to_be_visible()
    _frame_fits(visitor)
    frame_page = visitor.frame(url=lambda url: "/subscribe/embed/" in url)
    assert axe_violations(frame_page) == []
    visitor.screenshot(path=str(site_dir / "member-site.png"), full_page=True)
    _confirm_from_mail(visitor, smtp, run_jobs, "frame-visitor@example.org")

    # Both are the member's recruits, their credits pending until the hold ends.
    assert recruits() == [(coop.id, "pending", 500), (coop.id, "pending", 500)]


LATE_SCRIPT_SITE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Slow Co-op</title></head>
<body>
<main>
<h1>Slow Co-op</h1>
{iframe}
</main>
<script>
  // Like a page whose scripts come last or load slowly: the size script only runs
  // once the form inside the frame has loaded and reported its height to nobody.
  document.querySelector("iframe").addEventListener("load", function () {{
    setTimeout(function () {{
      var script = document.createElement("script");
      script.src = {src!r};
      document.body.appendChild(script);
    }}, 300);
  }});
</script>
</body>
</html>
"""


def test_the_iframe_fits_even_when_its_script_runs_after_the_form_loaded(other_page, member_site):
    """The snippet's script loads asynchronously; a form that loaded first (and sent its
    height before anyone listened) must still be sized (it failed CI once this way)."""
    site_url, site_dir = member_site
    coop = make_member("riverside", name="Riverside Food Co-op")
    food = make_topic("food", "Food co-ops")
    iframe = embed_snippets(EmbedForm(member=coop, topics=[food]))["iframe"]
    tag, script = iframe.split("\n")
    src = re.search(r'src="([^"]+)"', script).group(1)
    (site_dir / "index.html").write_text(
        LATE_SCRIPT_SITE.format(iframe=tag, src=src), encoding="utf-8"
    )
    other_page.goto(site_url)
    _frame_fits(other_page)
    audit(other_page)
