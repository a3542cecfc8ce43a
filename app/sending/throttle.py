"""Send limits shared by every worker: a global rate (messages per second) and a
per-recipient-domain concurrency. Counters live in Redis when configured (so all
processes on all machines share them), in this process otherwise. Both are off (0)
unless configured, and then cost nothing."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from app import jobs
from app.config import Settings

_local_lock = threading.Lock()
_local_window: dict[int, int] = defaultdict(int)
_local_domains: dict[str, int] = defaultdict(int)
DOMAIN_SLOT_TTL = 120  # seconds; a crashed worker's slots free themselves


class SendThrottle:
    def __init__(self, settings: Settings) -> None:
        self.rate = settings.send_rate_per_second
        self.per_domain = settings.send_domain_concurrency
        self.prefix = f"{settings.redis_namespace}:app:send"
        self.client = jobs.redis_client()
        self.held: set[str] = set()

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

    def _take_domain_slot(self, domain: str) -> bool:
        if self.client is not None:
            key = f"{self.prefix}:domain:{domain}"
            count = self.client.incr(key)
            self.client.expire(key, DOMAIN_SLOT_TTL)
            if count > self.per_domain:
                self.client.decr(key)
                return False
            return True
        with _local_lock:
            if _local_domains[domain] >= self.per_domain:
                return False
            _local_domains[domain] += 1
            return True

    def admit(self, domain: str) -> bool:
        """May one message to `domain` go now? False: try it again later."""
        if self.per_domain and domain not in self.held:
            if not self._take_domain_slot(domain):
                return False
            self.held.add(domain)
        if self.rate:
            self._take_rate_slot()
        return True

    def close(self) -> None:
        """Free the domain slots this batch held."""
        for domain in self.held:
            if self.client is not None:
                self.client.decr(f"{self.prefix}:domain:{domain}")
            else:
                with _local_lock:
                    _local_domains[domain] -= 1
        self.held.clear()
