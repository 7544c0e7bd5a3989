"""The in-process change log: the embedded default (``flannel up``, tests).

Same semantics as the Redis backend, so code tested against one behaves the same on the other.
Readers in the same process are woken by callbacks instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence

from .log import Entry, TooOld, check_batch, check_team
from .retention import Retained

Listener = Callable[[str], None]
"""Called with the workspace id after new events were appended to it."""


class _Stream:
    """One workspace's retained events.

    Parallel lists plus a moving head (instead of a deque) so a read can bisect to its
    position in O(log n); the dead prefix is compacted away once it is half the list.
    """

    __slots__ = ("floor", "head", "last", "offsets", "payloads", "times")

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.payloads: list[bytes] = []
        self.times: list[float] = []
        self.head = 0
        self.floor = 1
        self.last = 0

    def __len__(self) -> int:
        return len(self.offsets) - self.head

    def since(self, after: int, limit: int) -> list[Entry]:
        i = bisect_right(self.offsets, after, lo=self.head)
        j = min(i + limit, len(self.offsets))
        return list(zip(self.offsets[i:j], self.payloads[i:j], strict=True))

    def drop_before(self, index: int) -> None:
        """Forget entries before ``index``; the floor becomes the first one kept."""
        if index <= self.head:
            return
        self.head = index
        self.floor = self.offsets[index] if index < len(self.offsets) else self.last + 1
        if self.head > 1024 and 2 * self.head > len(self.offsets):
            del self.offsets[: self.head], self.payloads[: self.head], self.times[: self.head]
            self.head = 0


class MemoryLog(Retained):
    """Change log held in this process: a dict of workspace -> retained events.

    ``max_len`` bounds the events kept per workspace and ``max_age_s`` their age (``None``
    disables either bound). Retention runs on append, on :meth:`trim`, and every
    ``trim_every_s`` seconds once something was appended.
    """

    def __init__(
        self,
        max_len: int | None = 10_000,
        max_age_s: float | None = 86_400.0,
        *,
        clock: Callable[[], float] = time.time,
        trim_every_s: float | None = 60.0,
    ) -> None:
        super().__init__(max_len, max_age_s, clock, trim_every_s)
        self._streams: dict[str, _Stream] = {}
        self._listeners: dict[str, set[Listener]] = {}

    async def append(self, team_id: str, events: Sequence[Entry]) -> int:
        check_team(team_id)
        check_batch(events)
        s = self._streams.get(team_id)
        if s is None:
            s = self._streams[team_id] = _Stream()
        now = max(self._clock(), s.times[-1] if s.times else 0.0)  # keep times sorted
        added = 0
        for offset, payload in events:
            if offset <= s.last:
                continue
            if s.last == 0 and s.floor == 1:
                s.floor = offset  # first event ever: nothing older can be read
            s.offsets.append(offset)
            s.payloads.append(payload)
            s.times.append(now)
            s.last = offset
            added += 1
        if added:
            self._trim_stream(s, now)
            self._notify(team_id)
            self._start_trimmer()
        return added

    async def append_many(self, batches: Sequence[tuple[str, Sequence[Entry]]]) -> int:
        for team_id, events in batches:  # check all first: like Redis, all or nothing
            check_team(team_id)
            check_batch(events)
        added = 0
        for team_id, events in batches:
            added += await self.append(team_id, events)
        return added

    async def read(self, team_id: str, after: int, limit: int = 1000) -> list[Entry]:
        check_team(team_id)  # same errors as the Redis backend
        s = self._streams.get(team_id)
        if s is None:
            if after < 0:
                raise TooOld(team_id, after, 1)
            return []
        if after + 1 < s.floor:
            raise TooOld(team_id, after, s.floor)
        return s.since(after, limit)

    async def last_offset(self, team_id: str) -> int:
        s = self._streams.get(team_id)
        return 0 if s is None else s.last

    async def floor(self, team_id: str) -> int:
        s = self._streams.get(team_id)
        return 1 if s is None else s.floor

    async def trim(self) -> None:
        now = self._clock()
        for s in self._streams.values():
            self._trim_stream(s, now)

    async def close(self) -> None:
        await self._stop_trimmer()

    # -- following ---------------------------------------------------------------------------

    def watch(self, team_id: str, listener: Listener) -> None:
        """Call ``listener(team_id)`` after each append that adds events to ``team_id``."""
        self._listeners.setdefault(team_id, set()).add(listener)

    def unwatch(self, team_id: str, listener: Listener) -> None:
        listeners = self._listeners.get(team_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[team_id]

    async def wait(self, team_id: str, after: int, timeout_s: float | None = None) -> bool:
        """Wait until ``team_id`` has an event above ``after``; False on timeout."""
        woken = asyncio.Event()

        def listener(_: str) -> None:
            woken.set()

        self.watch(team_id, listener)
        try:
            async with asyncio.timeout(timeout_s):
                while await self.last_offset(team_id) <= after:
                    woken.clear()
                    await woken.wait()
        except TimeoutError:
            return False
        finally:
            self.unwatch(team_id, listener)
        return True

    def open_tail(self) -> MemoryTail:
        return MemoryTail(self)

    def last_seen(self, team_id: str) -> int:
        """:meth:`last_offset` without the coroutine, for the tail's scan."""
        s = self._streams.get(team_id)
        return 0 if s is None else s.last

    def since(self, team_id: str, after: int, limit: int) -> list[Entry]:
        """Entries above ``after`` without the floor check (what ``XREAD`` would return)."""
        s = self._streams.get(team_id)
        return [] if s is None else s.since(after, limit)

    # -- internals ---------------------------------------------------------------------------

    def _notify(self, team_id: str) -> None:
        for listener in list(self._listeners.get(team_id, ())):
            listener(team_id)

    def _trim_stream(self, s: _Stream, now: float) -> None:
        cut = s.head
        if self.max_len is not None and len(s) > self.max_len:
            cut = len(s.offsets) - self.max_len
        if self.max_age_s is not None:
            cut = max(cut, bisect_left(s.times, now - self.max_age_s, lo=s.head))
        s.drop_before(cut)


class MemoryTail:
    """Follows many workspaces of a :class:`MemoryLog`; woken by append, not by polling."""

    def __init__(self, log: MemoryLog) -> None:
        self._log = log
        self._watched: set[str] = set()
        self._event = asyncio.Event()

    async def next_batch(
        self, cursors: Mapping[str, int], count: int, block_s: float
    ) -> list[tuple[str, list[Entry]]]:
        wanted = cursors.keys()
        for team_id in self._watched - wanted:
            self._log.unwatch(team_id, self._on_append)
        for team_id in wanted - self._watched:
            self._log.watch(team_id, self._on_append)
        self._watched = set(wanted)
        batches = self._collect(cursors, count)
        if not batches:
            self._event.clear()  # no await since collecting: no append slipped in between
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(block_s):
                    await self._event.wait()
            batches = self._collect(cursors, count)
        return batches

    async def wake(self) -> None:
        self._event.set()

    async def close(self) -> None:
        for team_id in self._watched:
            self._log.unwatch(team_id, self._on_append)
        self._watched.clear()
        self._event.set()

    def _collect(self, cursors: Mapping[str, int], count: int) -> list[tuple[str, list[Entry]]]:
        batches: list[tuple[str, list[Entry]]] = []
        for team_id, cursor in cursors.items():
            if self._log.last_seen(team_id) > cursor:
                batches.append((team_id, self._log.since(team_id, cursor, count)))
        return [(team_id, entries) for team_id, entries in batches if entries]

    def _on_append(self, team_id: str) -> None:
        self._event.set()
