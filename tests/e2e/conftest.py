"""Browser tests: the real app on a loopback port, driven by Debian's Chromium.

The app runs in this process (uvicorn in a thread) on the test database the root
conftest prepared, so factories and the database fixtures work as elsewhere. Links in
emails must open that server, so each browser test points `get_settings().base_url` at
it (and the previous value comes back afterwards): the other tests keep their
http://testserver, and no second pytest session or database is needed. Mail goes to
the SMTP sink; `run_jobs()` delivers it.

Every page a test visits must be checked with `audit(page)` (axe-core, no serious or
critical violations, no sideways scrolling); a test that navigates somewhere it did not
audit fails. On failure the page's screenshot and HTML are saved under tests/artifacts/.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.config import get_settings
from app.consent.log import log_origin
from tests.e2e.browser import AXE_JS, DESKTOP, PHONE, launch  # noqa: F401 (PHONE re-exported)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class LiveServer:
    url: str
    server: object
    thread: threading.Thread


@pytest.fixture(scope="session")
def live_server(database) -> Iterator[LiveServer]:
    import uvicorn

    from app.main import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start for the browser tests")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def base_url(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The live server's address, which every emailed link now carries."""
    # The consent log keeps its name (its signing key is for it) when the address changes.
    monkeypatch.setattr(get_settings(), "log_origin", log_origin())
    monkeypatch.setattr(get_settings(), "base_url", live_server.url)
    return live_server.url


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@dataclass
class Visits:
    """Main-frame navigations of one page, and which of them were audited."""

    seen: list[str] = field(default_factory=list)
    audited: set[int] = field(default_factory=set)

    def unaudited(self) -> list[str]:
        return [url for i, url in enumerate(self.seen) if i not in self.audited]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def new_context(chromium, base_url: str):
    ctx = chromium.new_context(base_url=base_url, viewport=DESKTOP, accept_downloads=True)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def context(chromium, base_url: str):
    ctx = new_context(chromium, base_url)
    yield ctx
    ctx.close()


def tracked(page):
    """Record the page's main-frame navigations, for the check that each was audited."""
    visits = Visits()
    page.visits = visits  # type: ignore[attr-defined]

    def navigated(frame) -> None:
        if frame == page.main_frame and not frame.url.startswith("about:"):
            visits.seen.append(frame.url)

    page.on("framenavigated", navigated)
    return page


def after_test(page, request: pytest.FixtureRequest, suffix: str = "") -> None:
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        save_artifacts(page, request.node.name + suffix)
    elif report is not None and report.passed:
        missing = page.visits.unaudited()
        assert not missing, f"pages visited but not checked with audit(): {missing}"


@pytest.fixture
def page(context, request: pytest.FixtureRequest):
    page = tracked(context.new_page())
    yield page
    after_test(page, request)


@pytest.fixture
def other_page(chromium, base_url: str, request: pytest.FixtureRequest):
    """A second person's page, in its own browser context (its own cookies), checked the
    same way as `page`: for paths where two people take turns."""
    ctx = new_context(chromium, base_url)
    page = tracked(ctx.new_page())
    yield page
    after_test(page, request, "-other")
    ctx.close()


def save_artifacts(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    try:
        page.screenshot(path=f"{stem}.png", full_page=True)
        Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
    except Exception as exc:  # the page may have crashed; the report matters more
        Path(f"{stem}.error.txt").write_text(repr(exc), encoding="utf-8")


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP does not govern
        # (a <script> tag would be refused by our script-src 'self', as it should be).
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in BLOCKING_IMPACTS]


# The outermost elements that stick out on the right, to name them in the failure.
TOO_WIDE_JS = """() => {
    const width = document.documentElement.clientWidth, found = [];
    for (const el of document.querySelectorAll('body *')) {
        if (el.getBoundingClientRect().right <= width + 1) continue;
        if (found.some(f => f.contains(el))) continue;
        found.push(el);
    }
    return found.slice(0, 5).map(el =>
        el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
}"""


def audit(page) -> None:
    """Check the current page: axe-core clean and no sideways scrolling."""
    page.wait_for_load_state("load")
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} at {', '.join(v['targets'])}" for v in violations
    )
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, (
        f"{page.url} scrolls sideways by {overflow}px at {page.viewport_size}; "
        f"too wide: {page.evaluate(TOO_WIDE_JS)}"
    )
    visits: Visits = page.visits
    visits.audited.update(range(len(visits.seen)))


def link_from_mail(message, pattern: str) -> str:
    """The first link in the mail's plain text whose path matches `pattern`."""
    for url in re.findall(r"https?://[^\s<>\"']+", message.text()):
        if re.search(pattern, url):
            return url
    raise AssertionError(f"no link matching {pattern!r} in:\n{message.text()}")


def confirm_in_dialog(page, question: str | re.Pattern, button: str | re.Pattern) -> None:
    """The confirmation <dialog> (static/confirm.js) is open and asks `question`; it is
    checked like any page, then its `button` is pressed and the form's answer awaited."""
    dialog = page.get_by_role("dialog", name=question)
    from playwright.sync_api import expect

    expect(dialog).to_be_visible()
    audit(page)
    with page.expect_navigation():
        dialog.get_by_role("button", name=button).click()
