"""Token buckets for connects, per token and per client address.

A reconnect storm is normal (an edge died, its clients come back at once) and must go through;
a client stuck in a reconnect loop, or one address trying tokens, must not reach the origin at
that rate. Buckets give both: a burst, then a steady rate. Pure (the clock is injected) and
per router process; with several routers each enforces its own share.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """``burst`` calls at once per key, refilled at ``per_minute``; least recently used keys
    beyond ``max_keys`` are forgotten (a forgotten key starts with a full bucket)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate_per_s = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str) -> int:
        """Take one call from ``key``'s bucket: 0 if allowed, else whole seconds to wait
        (the ``Retry-After`` value; nothing is taken when refused)."""
        now = self._clock()
        level, then = self._buckets.pop(key, (self.burst, now))
        level = min(self.burst, level + (now - then) * self.rate_per_s)
        wait = 0
        if level >= 1.0:
            level -= 1.0
        else:
            wait = max(1, math.ceil((1.0 - level) / self.rate_per_s))
        self._buckets[key] = (level, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
