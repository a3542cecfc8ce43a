"""Refusals made before any page logic runs (a stale form, a body too large) speak the
reader's language too."""

from __future__ import annotations

import html

from tests.subscribers.helpers import make_topics


def test_a_stale_form_is_refused_in_french(client):
    make_topics()
    answer = client.post(
        "/subscribe",
        data={"csrf_token": "forged", "email": "a@example.org", "topics": ["food"]},
        headers={"Accept-Language": "fr-CA"},
    )
    assert answer.status_code == 403
    assert "Ce formulaire a expiré ou n’a pas été envoyé depuis notre site." in html.unescape(
        answer.text
    )


def test_a_body_too_large_is_refused_in_spanish(client):
    answer = client.post(
        "/api/v1/receipts/verify",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Accept-Language": "es", "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["detail"].startswith("Esta solicitud es demasiado grande")
