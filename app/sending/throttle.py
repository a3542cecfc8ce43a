"""Send limits shared by every worker: a global rate (messages per second) and a
per-recipient-domain concurrency. Counters live in Redis when configured (so all
processes on all machines share them), in this process otherwise. Both are off (0)
unless configured, and then cost nothing.

A domain slot is taken for one message and given back right after it: a batch never
holds a domain while it sends elsewhere. Each slot is a member of a sorted set scored
by its expiry, so a slot whose worker died frees itself after SLOT_TTL and the count of
holders can never go negative (giving back a slot twice removes nothing).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict

from app import jobs
from app.config import Settings

_local_lock = threading.Lock()
_local_window: dict[int, int] = defaultdict(int)
_local_domains: dict[str, dict[str, float]] = defaultdict(dict)
SLOT_TTL = 120.0  # seconds: longer than one SMTP exchange can take (its timeout is 30 s)
SLOT_WAIT = 1.0  # seconds a batch waits once for a busy domain before deferring to it

# KEYS[1] the domain's slots; ARGV: now, ttl, limit, slot id. 1 when the slot is taken.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) * 2)
  return 1
end
return 0
"""


class SendThrottle:
    def __init__(self, settings: Settings) -> None:
        self.rate = settings.send_rate_per_second
        self.per_domain = settings.send_domain_concurrency
        self.prefix = f"{settings.redis_namespace}:app:send"
        self.client = jobs.redis_client()
        self._take = self.client.register_script(_TAKE_SLOT) if self.client is not None else None
        self.held: dict[str, str] = {}  # domain -> the slot this throttle holds there
        self.busy: set[str] = set()  # domains found busy: later messages defer at once

    def _take_rate_slot(self) -> None:
        """Block until this second's window has room for one more message."""
        while True:
            second = int(time.time())
            if self.client is not None:
                key = f"{self.prefix}:rate:{second}"
                pipe = self.client.pipeline()
                pipe.incr(key)
                pipe.expire(key, 5)
                count = pipe.execute()[0]
            else:
                with _local_lock:
                    _local_window[second] += 1
                    count = _local_window[second]
                    for old in [s for s in _local_window if s < second - 5]:
                        del _local_window[old]
            if count <= self.rate:
                return
            time.sleep(max(0.0, second + 1 - time.time()))

    def _try_domain_slot(self, domain: str, slot: str) -> bool:
        now = time.time()
        if self._take is not None:
            key = f"{self.prefix}:domain:{domain}"
            return bool(self._take(keys=[key], args=[now, SLOT_TTL, self.per_domain, slot]))
        with _local_lock:
            slots = _local_domains[domain]
            for old in [s for s, expiry in slots.items() if expiry <= now]:
                del slots[old]
            if len(slots) >= self.per_domain:
                return False
            slots[slot] = now + SLOT_TTL
            return True

    def admit(self, domain: str, *, wait: float = SLOT_WAIT) -> bool:
        """May one message to `domain` go now? Waits up to `wait` seconds for a busy
        domain (once: later messages to a domain found busy defer at once); False:
        defer the message, which is not a failed attempt. Call `done` after the
        message, whatever happened to it."""
        if self.per_domain and domain not in self.held:
            slot = secrets.token_hex(8)
            deadline = time.monotonic() + (0 if domain in self.busy else wait)
            while not self._try_domain_slot(domain, slot):
                if time.monotonic() >= deadline:
                    self.busy.add(domain)
                    return False
                time.sleep(0.02)
            self.held[domain] = slot
        if self.rate:
            self._take_rate_slot()
        return True

    def done(self, domain: str) -> None:
        """Give back the domain slot taken for one message."""
        slot = self.held.pop(domain, None)
        if slot is None:
            return
        if self.client is not None:
            self.client.zrem(f"{self.prefix}:domain:{domain}", slot)
        else:
            with _local_lock:
                _local_domains[domain].pop(slot, None)

    def close(self) -> None:
        """Give back every slot still held (a batch that stopped mid-message)."""
        for domain in list(self.held):
            self.done(domain)
