"""The audit itself must be able to fail, or a clean run would prove nothing."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import PHONE, audit

pytestmark = pytest.mark.browser


def test_audit_reports_axe_violations_by_rule_and_element(page):
    page.goto("/")
    page.evaluate(
        """() => { const b = document.createElement('button'); b.id = 'nameless';
                   document.querySelector('main').append(b); }"""
    )
    with pytest.raises(AssertionError, match=r"critical button-name: .* at #nameless"):
        audit(page)
    page.visits.audited.update(range(len(page.visits.seen)))  # the failure was the point


def test_audit_reports_pages_wider_than_a_phone(page):
    page.set_viewport_size(PHONE)
    page.goto("/")
    page.evaluate(
        "() => { const d = document.createElement('div'); d.style.width = '900px';"
        " d.textContent = 'wide'; document.querySelector('main').append(d); }"
    )
    with pytest.raises(AssertionError, match="scrolls sideways"):
        audit(page)
    page.visits.audited.update(range(len(page.visits.seen)))  # the failure was the point
