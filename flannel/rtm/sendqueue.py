"""What a connection has yet to send, bounded.

A slow client must not make the edge hold an unbounded backlog. When its queue is full, frames
that lose nothing by being dropped go first: *ephemeral* ones (``user_typing``, presence) are
stale a second later. If the queue is still full, the connection must be closed with
:data:`wire.closecodes.TOO_SLOW` (4008, "too slow, resume"): every event carries its
offset, so the client reconnects with ``resume_from`` and the edge replays exactly what it
missed, from the log rather than from this connection's memory. Replies and pongs are never
ephemeral: a client waits for them.

After an overflow the queue refuses everything: the connection is doomed and anything queued
later would only be a hole-free prefix the client gets again on resume anyway.
"""

from __future__ import annotations

from collections import deque


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
