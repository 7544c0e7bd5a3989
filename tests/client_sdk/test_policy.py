"""Backoff with full jitter, Retry-After, and what each close code leads to."""

from __future__ import annotations

import random

import pytest

from client_sdk import AuthError, Backoff
from client_sdk.policy import Next, after_close


def test_full_jitter_stays_under_an_exponential_ceiling_up_to_the_cap() -> None:
    rng = random.Random(7)
    backoff = Backoff(base=0.5, cap=8.0, rand=rng.random)
    delays = [backoff.next() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert all(0 <= d < c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    highest = Backoff(base=0.5, cap=8.0, rand=lambda: 0.999999, attempt=40)
    assert highest.next() < 8.0


def test_retry_after_is_never_shortened_and_reset_starts_over() -> None:
    backoff = Backoff(base=1.0, rand=lambda: 0.0)
    assert backoff.retry_after(3.0) == 3.0
    assert Backoff(base=1.0, rand=lambda: 0.99).retry_after(3.0) >= 3.0
    backoff.next()
    backoff.reset()
    assert backoff.attempt == 0


@pytest.mark.parametrize(
    ("code", "goodbye", "expected"),
    [
        (4001, False, Next.STOP),
        (4002, False, Next.STOP),
        (1001, True, Next.SOON),
        (4008, False, Next.SOON),
        (4010, False, Next.SOON),
        (None, False, Next.BACKOFF),
        (1006, False, Next.BACKOFF),
        (4029, False, Next.BACKOFF),
        (4003, False, Next.BACKOFF),
        (1000, True, Next.SOON),
    ],
)
def test_close_codes(code: int | None, goodbye: bool, expected: Next) -> None:
    nxt, error = after_close(code, "why", goodbye)
    assert nxt is expected
    assert (error is not None) == (expected is Next.STOP)
    if error is not None:
        assert isinstance(error, AuthError)
        assert error.code == {4001: "token_revoked", 4002: "account_inactive"}[code or 0]
