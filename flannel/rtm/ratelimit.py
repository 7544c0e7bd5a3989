"""The client's frame budget: a token bucket that ends a connection which keeps pushing."""

from __future__ import annotations

from dataclasses import dataclass

from wire import closecodes


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Client frames: ``per_s`` sustained, ``burst`` at once.

    A frame refused for want of a token still costs one: a client that keeps sending while
    limited digs into debt, and is closed (``RATE_LIMITED``) once the debt exceeds ``close_debt``.
    """

    per_s: float = 20.0
    burst: float = 40.0
    close_debt: float = 40.0


@dataclass(frozen=True, slots=True)
class Allowance:
    """Whether one client frame may be handled; ``close_code`` when the connection must end."""

    ok: bool
    retry_after: float = 0.0
    close_code: int | None = None


class TokenBucket:
    __slots__ = ("_last", "limit", "tokens")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self._last = now

    def take(self, now: float) -> Allowance:
        limit = self.limit
        if now > self._last:
            self.tokens = min(limit.burst, self.tokens + (now - self._last) * limit.per_s)
            self._last = now
        self.tokens -= 1.0
        if self.tokens >= 0.0:
            return Allowance(True)
        retry_after = -self.tokens / limit.per_s
        if -self.tokens > limit.close_debt:
            return Allowance(False, retry_after, closecodes.RATE_LIMITED)
        return Allowance(False, retry_after)
