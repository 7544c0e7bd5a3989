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

Cheap per frame. Every live delivery passes through :meth:`SendQueue.put` and, on the
pre-framed path, leaves in :meth:`SendQueue.take_wire` within the same loop turn, once per
connection per event: thousands of times per message. So a queue keeps two plain lists (each
frame, and the same frame as a WebSocket frame), made at its first frame and kept, emptied in
place: no deque, tuple or list is allocated per frame. Allocations per delivery would also
feed the garbage collector (each tracked one counts toward a collection, and lists alive
when one runs survive into older generations, toward a full collection: see
:mod:`flannel.gcstats`). Which frames are ephemeral is a bytearray beside them, made only while
one is queued. Frames come off the front by an index (:meth:`pop`, the ASGI writer), the lists
compacted once half is spent.
"""

from __future__ import annotations

from flannel.rtm.frames import ws_text

#: Popped frames kept at the front of the lists before they are cut off (see :meth:`pop`).
_COMPACT_AT = 64


class SendQueue:
    """Frames waiting for the socket: at most ``capacity`` frames and ``max_bytes`` bytes."""

    __slots__ = (
        "_bytes",
        "_ephemeral",
        "_flags",
        "_frames",
        "_head",
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
        # None until the first frame (a connection refused before its hello never needs them);
        # then kept, emptied in place. ``_wires[i]`` is ``_frames[i]`` framed for the socket.
        self._frames: list[bytes] | None = None
        self._wires: list[bytes] | None = None
        self._head = 0  # frames before it are popped already (``pop``)
        # One byte per frame (1: ephemeral), in step with ``_frames``, only while one is queued.
        self._flags: bytearray | None = None
        self._bytes = 0
        self._ephemeral = 0  # how many queued frames are ephemeral: skip the purge when none
        self.dropped_ephemeral = 0
        self.refused = 0  # non-ephemeral frames refused by an overflowed queue
        self.overflowed = False

    def __len__(self) -> int:
        frames = self._frames
        return len(frames) - self._head if frames else 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def put(self, frame: bytes, ephemeral: bool = False, wire: bytes | None = None) -> bool:
        """Queue ``frame``; False when the connection must now close (4008).

        ``wire``: the same frame already framed for the socket (shared by every connection an
        event goes to), else it is framed here. A dropped ephemeral frame is not a failure: it
        returns True.
        """
        if self.overflowed:
            self._count_refused(ephemeral)
            return False
        frames = self._frames
        size = len(frame)
        if frames is None:
            frames = self._frames = []
            self._wires = []
        if len(frames) - self._head >= self.capacity or self._bytes + size > self.max_bytes:
            self._purge_ephemeral()
            if len(self) >= self.capacity or self._bytes + size > self.max_bytes:
                if ephemeral:
                    self.dropped_ephemeral += 1
                    return True
                self.overflowed = True
                self.refused += 1
                return False
        wires = self._wires
        assert wires is not None
        frames.append(frame)
        wires.append(wire if wire else ws_text(frame))
        self._bytes += size
        flags = self._flags
        if ephemeral:
            if flags is None:
                flags = self._flags = bytearray(len(frames) - 1)
            flags.append(1)
            self._ephemeral += 1
        elif flags is not None:
            flags.append(0)
        return True

    def pop(self) -> bytes | None:
        """The next frame to write, or None when empty."""
        frames = self._frames
        head = self._head
        if not frames or head >= len(frames):
            return None
        frame = frames[head]
        self._bytes -= len(frame)
        flags = self._flags
        if flags is not None and flags[head]:
            self._ephemeral -= 1
        head += 1
        if head == len(frames):
            self.clear()
        elif head >= _COMPACT_AT and head * 2 >= len(frames):
            wires = self._wires
            assert wires is not None
            del frames[:head], wires[:head]
            if flags is not None:
                del flags[:head]
            self._head = 0
        else:
            self._head = head
        return frame

    def take_wire(self) -> bytes:
        """Everything queued as WebSocket frames, joined for one ``transport.write`` (b"" when
        empty): the pre-framed path's one call per connection per loop turn."""
        wires = self._wires
        if not wires:
            return b""
        head = self._head
        data = wires[0] if len(wires) == 1 else b"".join(wires[head:] if head else wires)
        wires.clear()  # what clear() does, inline: once per connection per event
        frames = self._frames
        assert frames is not None
        frames.clear()
        self._head = self._bytes = self._ephemeral = 0
        self._flags = None
        return data

    def pop_wire(self) -> list[bytes]:
        """Everything queued, as WebSocket frames ready for the transport (see ``ws_text``)."""
        wires = self._wires
        out = wires[self._head :] if wires else []
        self.clear()
        return out

    def pop_many(self, limit: int = 64) -> list[bytes]:
        """Up to ``limit`` frames at once, for writers that batch."""
        out: list[bytes] = []
        while len(out) < limit and (frame := self.pop()) is not None:
            out.append(frame)
        return out

    def queued(self) -> list[tuple[bytes, bool]]:
        """What is queued, in order, each frame with whether it is ephemeral (for tests and
        introspection; the writers use the ``pop`` methods)."""
        frames, flags, head = self._frames or [], self._flags, self._head
        return [(frames[i], bool(flags is not None and flags[i])) for i in range(head, len(frames))]

    def clear(self) -> None:
        """Empty the queue, keeping its two lists (emptied in place) for the next frames."""
        if self._frames:
            self._frames.clear()
        if self._wires:
            self._wires.clear()
        self._flags = None
        self._head = 0
        self._bytes = 0
        self._ephemeral = 0

    def _purge_ephemeral(self) -> None:
        if not self._ephemeral:
            return
        kept = [(f, w) for f, w, e in self._live() if not e]
        self.dropped_ephemeral += len(self) - len(kept)
        frames, wires = self._frames, self._wires
        assert frames is not None and wires is not None
        frames[:] = [f for f, _ in kept]
        wires[:] = [w for _, w in kept]
        self._flags = None
        self._head = 0
        self._bytes = sum(len(f) for f in frames)
        self._ephemeral = 0

    def _live(self) -> list[tuple[bytes, bytes, bool]]:
        frames, wires, flags, head = self._frames or [], self._wires or [], self._flags, self._head
        return [(frames[i], wires[i], bool(flags is not None and flags[i])) for i in range(head, len(frames))]

    def _count_refused(self, ephemeral: bool) -> None:
        if ephemeral:
            self.dropped_ephemeral += 1
        else:
            self.refused += 1
