"""Fixed-window rate limits, shared through Redis when configured, in-process otherwise."""

from __future__ import annotations

import threading
import time

from app import jobs
from app.config import get_settings

_local_counts: dict[str, tuple[int, float]] = {}
_local_lock = threading.Lock()


def hit(scope: str, key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one attempt for (scope, key); True while within `limit` per window."""
    window = int(time.time() // window_seconds)
    name = f"{get_settings().redis_namespace}:app:rl:{scope}:{key}:{window}"
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
