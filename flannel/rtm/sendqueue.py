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

from flannel.rtm.frames import ws_text


class SendQueue:
    """Frames waiting for the socket: at most ``capacity`` frames and ``max_bytes`` bytes."""

    __slots__ = (
        "_bytes",
        "_ephemeral",
        "_frames",
        "_wires",
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
        # Empty tuples while nothing is queued (most of the time, for an idle connection): a
        # deque holds a block of its own even when empty.
        self._frames: deque[tuple[bytes, bool]] | tuple[()] = ()
        # In step with ``_frames``: each payload as a WebSocket frame when it came framed already.
        self._wires: deque[bytes | None] | tuple[()] = ()
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

    def put(self, frame: bytes, ephemeral: bool = False, wire: bytes | None = None) -> bool:
        """Queue ``frame``; False when the connection must now close (4008).

        ``wire``: the same frame already framed for the socket (shared by every connection an
        event goes to), else it is framed when written. A dropped ephemeral frame is not a
        failure: it returns True.
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
        if not self._frames:
            self._frames, self._wires = deque(), deque()
        assert isinstance(self._frames, deque) and isinstance(self._wires, deque)
        self._frames.append((frame, ephemeral))
        self._wires.append(wire)
        self._bytes += len(frame)
        self._ephemeral += ephemeral
        return True

    def pop(self) -> bytes | None:
        """The next frame to write, or None when empty."""
        frames, wires = self._frames, self._wires
        if not frames:
            return None
        assert isinstance(frames, deque) and isinstance(wires, deque)
        frame, ephemeral = frames.popleft()
        wires.popleft()
        self._bytes -= len(frame)
        self._ephemeral -= ephemeral
        if not frames:
            self.clear()
        return frame

    def pop_wire(self) -> list[bytes]:
        """Everything queued, as WebSocket frames ready for the transport (see ``ws_text``)."""
        out = [
            w if w is not None else ws_text(f) for (f, _), w in zip(self._frames, self._wires, strict=True)
        ]
        self.clear()
        return out

    def pop_many(self, limit: int = 64) -> list[bytes]:
        """Up to ``limit`` frames at once, for writers that batch."""
        out: list[bytes] = []
        while self._frames and len(out) < limit:
            frame = self.pop()
            assert frame is not None
            out.append(frame)
        return out

    def clear(self) -> None:
        self._frames, self._wires = (), ()
        self._bytes = 0
        self._ephemeral = 0

    def _fits(self, frame: bytes) -> bool:
        return len(self._frames) < self.capacity and self._bytes + len(frame) <= self.max_bytes

    def _purge_ephemeral(self) -> None:
        if not self._ephemeral:
            return
        both = [(item, w) for item, w in zip(self._frames, self._wires, strict=True) if not item[1]]
        self.dropped_ephemeral += len(self._frames) - len(both)
        if not both:
            self.clear()
            return
        self._frames = deque(item for item, _ in both)
        self._wires = deque(w for _, w in both)
        self._bytes = sum(len(f) for f, _ in self._frames)
        self._ephemeral = 0

    def _count_refused(self, ephemeral: bool) -> None:
        if ephemeral:
            self.dropped_ephemeral += 1
        else:
            self.refused += 1
