"""Whose X-Forwarded-For is believed: by default nobody's, so a client cannot dodge the
per-client signup limit by rotating the header; with COOPCLUB_TRUSTED_PROXIES, the
client is the last address the trusted proxies appended, whatever the client put first."""

from __future__ import annotations

import httpx
import pytest

from app.config import ConfigError, load_settings
from tests import processes
from tests.smtp_sink import free_port
from tests.subscribers.helpers import make_topics

LIMIT = 3


def _sign_up(url: str, number: int, forwarded_for: str) -> int:
    response = httpx.post(
        f"{url}/api/v1/subscribe",
        json={"email": f"reader{number}@example.org", "topics": ["food"]},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def test_without_trusted_proxies_a_rotating_forwarded_for_changes_nothing():
    make_topics()
    port = free_port()
    server = processes.serve(port, COOPCLUB_SIGNUP_LIMIT_PER_CLIENT=str(LIMIT))
    url = f"http://127.0.0.1:{port}"
    try:
        answers = [_sign_up(url, n, f"198.51.100.{n}") for n in range(LIMIT + 3)]
    finally:
        processes.stop(server)
    assert answers == [202] * LIMIT + [429] * 3


def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit():
    make_topics()
    port = free_port()
    server = processes.serve(
        port,
        COOPCLUB_SIGNUP_LIMIT_PER_CLIENT=str(LIMIT),
        COOPCLUB_TRUSTED_PROXIES="127.0.0.0/8, ::1",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Three clients behind the proxy, each up to its own limit.
        first = [_sign_up(url, n, "203.0.113.1") for n in range(LIMIT)]
        second = [_sign_up(url, 100 + n, "203.0.113.2") for n in range(LIMIT)]
        # A client that writes its own X-Forwarded-For gets the proxy's appended after it:
        # the spoofed entries are ignored and it is still 203.0.113.1, already at its limit.
        spoofed = [_sign_up(url, 200 + n, f"10.9.9.{n}, 203.0.113.1") for n in range(3)]
        third = _sign_up(url, 300, "10.0.0.7, 203.0.113.3")
    finally:
        processes.stop(server)
    assert first == [202] * LIMIT
    assert second == [202] * LIMIT
    assert spoofed == [429] * 3
    assert third == 202


def test_a_trusted_proxy_that_is_not_an_address_stops_start_up():
    with pytest.raises(ConfigError, match="COOPCLUB_TRUSTED_PROXIES: 'proxy.example' is not"):
        load_settings(trusted_proxies="10.0.0.1, proxy.example")
    assert load_settings(trusted_proxies="10.0.0.0/8,::1").trusted_proxies == ["10.0.0.0/8", "::1"]
