"""/docs renders in Chromium with every request outside this app refused (no
internet), under the app's Content-Security-Policy, with nothing refused by it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import audit

pytestmark = pytest.mark.browser


def test_api_docs_work_offline_under_our_csp(page, base_url):
    outside: list[str] = []

    def only_this_app(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    refused: list[str] = []
    page.route("**/*", only_this_app)
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )

    page.goto("/docs")
    expect(page.get_by_role("heading", name="Co-op Data Club")).to_be_visible()
    expect(page.get_by_text("/api/v1/subscribe").first).to_be_visible()
    audit(page)

    assert outside == [] and refused == []
    # No /redoc: it could not be both offline and accessible (see app/api_docs.py).
    assert page.request.get("/redoc").status == 404
