"""The connect limiter: a burst, then a steady rate, and an honest Retry-After."""

from __future__ import annotations

from router.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.check("k") for _ in range(3)] == [0, 0, 0]
    assert limiter.check("k") == 1
    assert limiter.check("other") == 0  # keys are independent
    clock.now = 1.0
    assert limiter.check("k") == 0
    assert limiter.check("k") == 1
    clock.now = 100.0
    assert [limiter.check("k") for _ in range(4)] == [0, 0, 0, 1]  # refilled to the burst only


def test_retry_after_is_the_time_to_the_next_call() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=1, clock=clock)
    assert limiter.check("k") == 0
    assert limiter.check("k") == 10
    clock.now = 9.5
    assert limiter.check("k") == 1
    clock.now = 10.0
    assert limiter.check("k") == 0


def test_keys_are_bounded() -> None:
    limiter = RateLimiter(per_minute=1, burst=1, clock=Clock(), max_keys=10)
    for i in range(100):
        limiter.check(str(i))
    assert len(limiter) == 10
