"""Token buckets by key, in the memory of one process: how much one caller may do per moment."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable


class RateLimiter:
    """A bucket per key holds up to ``burst`` tokens and refills ``per_second`` of them.

    Bounded memory: past ``max_keys`` buckets, the full ones (callers who have been quiet long
    enough to be owed a whole burst again) are forgotten, which changes nothing for them; if
    none is full, the oldest half.
    ``clock`` is injectable so tests move time instead of sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self._max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: Hashable, count: int, burst: float, per_second: float) -> int:
        """Take ``count`` (at most ``burst``) tokens for ``key``: 0 if they were there, else the
        whole seconds to wait until they will be (nothing is taken then)."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * per_second)
            if tokens < count:
                self._buckets[key] = (tokens, now)
                return max(1, math.ceil((count - tokens) / per_second))
            if key not in self._buckets and len(self._buckets) >= self._max_keys:
                self._forget_full(now, burst, per_second)
            self._buckets[key] = (tokens - count, now)
            return 0

    def _forget_full(self, now: float, burst: float, per_second: float) -> None:
        full = [k for k, (tokens, at) in self._buckets.items() if tokens + (now - at) * per_second >= burst]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
