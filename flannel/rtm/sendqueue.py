"""What a connection has yet to send, bounded; and how a draining edge spreads its goodbyes.

A slow client must not make the edge hold an unbounded backlog. When its queue is full, frames
that lose nothing by being dropped go first: *ephemeral* ones (``user_typing``, presence) are
stale a second later. If the queue is still full, the connection must be closed with
:data:`~flannel.rtm.frames.CLOSE_TOO_SLOW` (4008, "too slow, resume"): every event carries its
offset, so the client reconnects with ``resume_from`` and the edge replays exactly what it
missed, from the log rather than from this connection's memory. Replies and pongs are never
ephemeral: a client waits for them.

After an overflow the queue refuses everything: the connection is doomed and anything queued
later would only be a hole-free prefix the client gets again on resume anyway.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Sequence
from typing import TypeVar

from flannel.rtm.frames import CLOSE_TOO_SLOW

T = TypeVar("T")

__all__ = ["CLOSE_TOO_SLOW", "Drainer", "SendQueue"]


class SendQueue:
    """Frames waiting for the socket: at most ``capacity`` frames and ``max_bytes`` bytes."""

    __slots__ = (
        "_bytes",
        "_ephemeral",
        "_frames",
        "capacity",
        "dropped_ephemeral",
        "max_bytes",
        "overflowed",
        "refused",
    )

    def __init__(self, capacity: int = 1000, max_bytes: int = 4 * 1024 * 1024) -> None:
        if capacity < 1 or max_bytes < 1:
            raise ValueError("capacity and max_bytes must be positive")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._frames: deque[tuple[bytes, bool]] = deque()
        self._bytes = 0
        self._ephemeral = 0  # how many queued frames are ephemeral: skip the purge when none
        self.dropped_ephemeral = 0
        self.refused = 0  # non-ephemeral frames refused by an overflowed queue
        self.overflowed = False

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def put(self, frame: bytes, ephemeral: bool = False) -> bool:
        """Queue ``frame``; False when the connection must now close (4008).

        A dropped ephemeral frame is not a failure: it returns True.
        """
        if self.overflowed:
            self._count_refused(ephemeral)
            return False
        if not self._fits(frame):
            self._purge_ephemeral()
            if not self._fits(frame):
                if ephemeral:
                    self.dropped_ephemeral += 1
                    return True
                self.overflowed = True
                self.refused += 1
                return False
        self._frames.append((frame, ephemeral))
        self._bytes += len(frame)
        self._ephemeral += ephemeral
        return True

    def pop(self) -> bytes | None:
        """The next frame to write, or None when empty."""
        if not self._frames:
            return None
        frame, ephemeral = self._frames.popleft()
        self._bytes -= len(frame)
        self._ephemeral -= ephemeral
        return frame

    def pop_many(self, limit: int = 64) -> list[bytes]:
        """Up to ``limit`` frames at once, for writers that batch."""
        out: list[bytes] = []
        while self._frames and len(out) < limit:
            frame = self.pop()
            assert frame is not None
            out.append(frame)
        return out

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0
        self._ephemeral = 0

    def _fits(self, frame: bytes) -> bool:
        return len(self._frames) < self.capacity and self._bytes + len(frame) <= self.max_bytes

    def _purge_ephemeral(self) -> None:
        if not self._ephemeral:
            return
        kept = deque(item for item in self._frames if not item[1])
        self.dropped_ephemeral += len(self._frames) - len(kept)
        self._frames = kept
        self._bytes = sum(len(f) for f, _ in kept)
        self._ephemeral = 0

    def _count_refused(self, ephemeral: bool) -> None:
        if ephemeral:
            self.dropped_ephemeral += 1
        else:
            self.refused += 1


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
