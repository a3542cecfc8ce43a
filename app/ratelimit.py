"""Rate limits over a moving window (the `limits` library), shared through Redis when
configured, in-process otherwise.

A moving window allows at most `limit` attempts in any `window_seconds` span: unlike
fixed windows, which start again at every multiple of the window, a client cannot get
twice the limit through by sending half before and half after a window's edge.

Keys are client addresses and account email addresses: Redis stores only an HMAC of
each (under the suppression pepper), never the address itself."""

from __future__ import annotations

import functools
import hashlib
import hmac

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from app import jobs
from app.config import get_settings


@functools.cache
def _storage() -> Storage:
    settings = get_settings()
    client = jobs.redis_client()
    if client is None:
        return MemoryStorage()
    # The broker's connections; keys are "<namespace>:app:rl:LIMITER/<scope>/<hmac>/…".
    return RedisStorage(
        settings.redis_url,
        connection_pool=client.connection_pool,
        key_prefix=f"{settings.redis_namespace}:app:rl",
    )


@functools.cache
def _limiter() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(_storage())


def hit(scope: str, key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt for (scope, key); True while within `limit` attempts in the last
    `window_seconds`. A refused attempt is not counted."""
    digest = hmac.new(
        (get_settings().suppression_pepper or "").encode(),
        f"{scope}\n{key}".encode(),
        hashlib.sha256,
    ).hexdigest()[:32]
    return _limiter().hit(RateLimitItemPerSecond(limit, window_seconds), scope, digest)


def reset_local() -> None:
    """Forget in-process counts (tests start each case from zero)."""
    storage = _storage()
    if isinstance(storage, MemoryStorage):
        storage.reset()
