"""The change-log contract shared by the relay (writer), the backends and the edge (reader).

Events are opaque bytes here; each carries its workspace's offset, assigned by the origin's
outbox: per workspace, strictly increasing, starting at 1 and dense (the outbox primary key is
``(team_id, event_offset)``). The log never returns a silent gap: a reader whose position has
been trimmed away gets :class:`TooOld` and must resync from a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

Entry = tuple[int, bytes]
"""One event: ``(offset, payload)``."""


class TooOld(Exception):
    """The requested position is below the retention floor: the caller must resync."""

    def __init__(self, team_id: str, after: int, floor: int) -> None:
        super().__init__(f"{team_id}: offset {after + 1} is below the log floor {floor}")
        self.team_id = team_id
        self.after = after
        self.floor = floor  # the lowest offset still readable


class ChangeLog(Protocol):
    """A bounded, replayable, per-workspace log of events."""

    async def append(self, team_id: str, events: Sequence[Entry]) -> int:
        """Append ``(offset, payload)`` pairs given in increasing offset order.

        Idempotent: offsets at or below the stream's last offset are skipped silently, because
        the relay may publish a row twice after a crash. Returns how many were new.
        """
        ...

    async def append_many(self, batches: Sequence[tuple[str, Sequence[Entry]]]) -> int:
        """:meth:`append` for several workspaces at once (one round trip where the backend
        allows); each batch is applied as :meth:`append` would. Returns how many were new."""
        ...

    async def read(self, team_id: str, after: int, limit: int = 1000) -> list[Entry]:
        """Events with offset > ``after``, in order, at most ``limit``.

        Raises :class:`TooOld` when events after ``after`` were trimmed (``after + 1 < floor``).
        """
        ...

    async def last_offset(self, team_id: str) -> int:
        """The newest offset appended (0 when nothing was)."""
        ...

    async def floor(self, team_id: str) -> int:
        """The lowest offset still readable (1 when nothing was ever trimmed)."""
        ...

    async def trim(self) -> None:
        """Apply retention to every workspace now (it also runs on append and periodically)."""
        ...

    async def close(self) -> None: ...


class Tail(Protocol):
    """One blocking read over many workspaces at once: the primitive a :class:`LogReader` needs.

    Like Redis ``XREAD``, it does not check the floor: it returns whatever entries exist above
    each cursor. The reader verifies continuity itself (see ``reader.py``).
    """

    async def next_batch(
        self, cursors: Mapping[str, int], count: int, block_s: float
    ) -> list[tuple[str, list[Entry]]]:
        """Wait up to ``block_s`` for entries above any cursor; return them per workspace.

        Returns early (possibly empty) after :meth:`wake`, so the caller can re-issue the read
        with a changed set of workspaces.
        """
        ...

    async def wake(self) -> None:
        """Interrupt a pending :meth:`next_batch` (best effort)."""
        ...

    async def close(self) -> None: ...


class TailableLog(ChangeLog, Protocol):
    """A change log that can also be followed for many workspaces by one task."""

    def open_tail(self) -> Tail: ...


def check_team(team_id: str) -> None:
    """Reject workspace ids that could collide with other keys (``:`` separates key parts)."""
    if not team_id or ":" in team_id or team_id == "epoch":
        raise ValueError(f"invalid workspace id for the change log: {team_id!r}")


def check_batch(events: Sequence[Entry]) -> None:
    """Reject a batch that is not in strictly increasing positive offset order (a relay bug)."""
    prev = 0
    for offset, payload in events:
        if not isinstance(offset, int) or offset <= prev:
            raise ValueError(f"offsets must be positive and strictly increasing, got {offset!r}")
        if not isinstance(payload, bytes):
            raise TypeError(f"payload for offset {offset} must be bytes")
        prev = offset
