"""How a draining edge spreads its ``goodbye`` frames, so that leaving is not a reconnect storm."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Drainer:
    """Spread ``goodbye`` frames over ``window_s`` so a draining edge is not a reconnect storm.

    Each of ``n`` connections gets its own slot of width ``window_s / n`` (index -> slot is a
    permutation that depends on ``seed``) and a point inside it, so reconnects arrive evenly,
    never two at the same instant. The same seed and index always give the same delay, which
    makes drains testable and lets several processes of one edge agree on a schedule.
    """

    def __init__(self, window_s: float = 10.0, seed: int = 0) -> None:
        if window_s < 0:
            raise ValueError("window_s must be >= 0")
        self.window_s = window_s
        self.seed = seed

    def delay(self, index: int, n: int) -> float:
        """When connection ``index`` of ``n`` gets its goodbye, in seconds from the drain's start."""
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} connections")
        slot = (index * _coprime_step(n) + self.seed) % n  # a permutation of 0..n-1
        digest = hashlib.blake2b(f"{self.seed}:{index}".encode(), digest_size=8).digest()
        within = int.from_bytes(digest, "big") / 2**64
        return (slot + within) * self.window_s / n

    def delays(self, n: int) -> list[float]:
        return [self.delay(i, n) for i in range(n)]

    def schedule(self, conns: Sequence[T]) -> list[tuple[float, T]]:
        """``(delay, connection)`` in the order the goodbyes go out."""
        return sorted(zip(self.delays(len(conns)), conns, strict=True), key=lambda pair: pair[0])


def _coprime_step(n: int) -> int:
    """A step near ``n / phi`` coprime with ``n``: ``i * step mod n`` scatters neighbours."""
    step = max(1, int(n * 0.6180339887))
    while math.gcd(step, n) != 1:
        step += 1
    return step
