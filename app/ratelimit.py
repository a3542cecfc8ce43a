"""Fixed-window rate limits, shared through Redis when configured, in-process otherwise.

Keys are client addresses and account email addresses: Redis stores only an HMAC of
each (under the suppression pepper), never the address itself."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time

from app import jobs
from app.config import get_settings

_local_counts: dict[str, tuple[int, float]] = {}
_local_lock = threading.Lock()


def hit(scope: str, key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt for (scope, key); True while within `limit` per window."""
    settings = get_settings()
    window = int(time.time() // window_seconds)
    digest = hmac.new(
        (settings.suppression_pepper or "").encode(), f"{scope}\n{key}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    name = f"{settings.redis_namespace}:app:rl:{scope}:{digest}:{window}"
    client = jobs.redis_client()
    if client is not None:
        pipe = client.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds + 1)
        count = pipe.execute()[0]
        return int(count) <= limit
    now = time.time()
    with _local_lock:
        if len(_local_counts) > 50_000:  # forget finished windows
            for stale in [k for k, (_, exp) in _local_counts.items() if exp < now]:
                del _local_counts[stale]
        count, expires = _local_counts.get(name, (0, now + window_seconds + 1))
        _local_counts[name] = (count + 1, expires)
    return count + 1 <= limit


def reset_local() -> None:
    """Forget in-process counts (tests start each case from zero)."""
    with _local_lock:
        _local_counts.clear()
