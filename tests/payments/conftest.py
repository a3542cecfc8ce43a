"""localstripe (a local Stripe API emulator) as a subprocess, and our app under a real
uvicorn on a loopback port so localstripe can deliver signed webhooks to it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import uvicorn

from app.config import get_settings
from tests.members.factories import make_account, make_key, make_member

WEBHOOK_SECRET = "whsec_coopclub_test_secret"
SECRET_KEY = "sk_test_coopclub"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


@contextlib.contextmanager
def running_localstripe():
    """A localstripe of its own (no webhooks registered): its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/js.stripe.com/v3/")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def localstripe():
    with running_localstripe() as base:
        yield base


@pytest.fixture(scope="session")
def live_app(database):
    """The app on a real uvicorn, in this process (same database and broker)."""
    from app.main import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/healthz")
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def stripe_on(localstripe, live_app, monkeypatch):
    """Stripe configured against localstripe, with our webhook registered there."""
    settings = get_settings()
    monkeypatch.setattr(settings, "stripe_secret_key", SECRET_KEY)
    monkeypatch.setattr(settings, "stripe_webhook_secret", WEBHOOK_SECRET)
    monkeypatch.setattr(settings, "stripe_api_base", localstripe)
    response = httpx.post(
        f"{localstripe}/_config/webhooks/coopclub",
        data={"url": f"{live_app}/webhooks/stripe", "secret": WEBHOOK_SECRET},
    )
    response.raise_for_status()
    return {"api": localstripe, "app": live_app}


@pytest.fixture
def coop():
    """A member co-op with an owner and an API key."""
    member = make_member("riverside")
    make_account("owner@riverside.example.org", member=member)
    _k, secret = make_key(member)
    return {"member": member, "auth": {"Authorization": f"Bearer {secret}"}}
