"""Follow many workspaces' logs from one task: what an edge runs to keep its caches current.

One background task issues a single blocking read (``XREAD BLOCK`` on Redis) over exactly the
followed workspaces, so its cost depends on what this process follows, not on how many
workspaces exist. It hands each batch to that workspace's subscriptions.

Never a silent gap. A workspace's *cursor* is the offset the live feed has reached. A batch
that does not start at ``cursor + 1`` (entries trimmed between reads, or Redis restarted and
the relay republished only part of the history) is re-read through :meth:`ChangeLog.read`,
which checks the floor atomically and raises :class:`TooOld` for whoever is below it. Since
offsets are dense, a batch starting at ``cursor + 1`` is contiguous by construction.

Bounded memory. Each subscription buffers at most ``max_buffer`` events. A subscriber that
falls behind the live feed (slow consumer, late subscriber with an older offset) stops being
fed and catches up by reading the log itself, then rejoins the feed; nothing is dropped unless
retention trims it first, in which case it gets :class:`TooOld`.

Connection errors (Redis restarting) are retried with capped, jittered backoff; every cursor
and subscription position survives, so following resumes exactly where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from bisect import bisect_right
from collections import deque

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .log import Entry, TailableLog, TooOld, check_team

logger = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)
"""Errors that mean "the log is unreachable for now": retry, never surface to subscribers."""


class _Backoff:
    """Capped exponential backoff with full jitter, so reconnecting readers do not stampede."""

    def __init__(self, base_s: float = 0.05, cap_s: float = 5.0) -> None:
        self._base_s = base_s
        self._cap_s = cap_s
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    async def sleep(self) -> None:
        delay = random.uniform(0, min(self._cap_s, self._base_s * 2**self._attempt))
        self._attempt = min(self._attempt + 1, 30)
        await asyncio.sleep(delay)


class _Follow:
    """One followed workspace: how far the live feed got, and who listens."""

    __slots__ = ("cursor", "subs", "team_id")

    def __init__(self, team_id: str, cursor: int) -> None:
        self.team_id = team_id
        self.cursor = cursor
        self.subs: set[Subscription] = set()


class Subscription:
    """Events of one workspace after a given offset: in order, none missing, none twice.

    Iterate with ``async for offset, payload in sub``. Raises :class:`TooOld` (after yielding
    everything before the hole) when the log no longer reaches back to the next offset;
    iteration ends after :meth:`close` or when the reader closes.
    """

    def __init__(self, reader: LogReader, follow: _Follow, after: int, max_buffer: int) -> None:
        self._reader = reader
        self._follow = follow
        self._position = after  # last offset handed to the consumer
        self._tail = after  # last offset held: handed out or buffered
        self._buffer: deque[Entry] = deque()
        self._max_buffer = max_buffer
        self._wake = asyncio.Event()
        self._error: TooOld | None = None
        self._closed = False
        self._backoff = _Backoff(cap_s=reader.backoff_cap_s)

    @property
    def team_id(self) -> str:
        return self._follow.team_id

    @property
    def position(self) -> int:
        """The last offset delivered: resume from here."""
        return self._position

    def buffered(self) -> int:
        """How many events are in hand, to be yielded without waiting (the rest of a read)."""
        return len(self._buffer)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Entry:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._buffer:
                entry = self._buffer.popleft()
                self._position = entry[0]
                return entry
            if self._error is not None:
                raise self._error
            self._wake.clear()
            if self._tail < self._follow.cursor and await self._catch_up():
                continue
            await self._wake.wait()

    async def close(self) -> None:
        self._end()
        self._reader._detach(self)

    # -- called by the reader ----------------------------------------------------------------

    def _offer(self, start: int, entries: list[Entry]) -> None:
        """Take the live batch ``(start, ...]`` if it continues what this subscription holds."""
        if self._closed or self._error is not None:
            return
        self._wake.set()
        if self._tail < start:
            return  # behind the live feed: it reads the log itself
        i = bisect_right(entries, self._tail, key=lambda e: e[0])
        room = self._max_buffer - len(self._buffer)
        if i < len(entries) and room > 0:
            taken = entries[i : i + room]
            self._buffer.extend(taken)
            self._tail = taken[-1][0]

    def _fail(self, error: TooOld) -> None:
        self._error = error
        self._wake.set()

    def _end(self) -> None:
        self._closed = True
        self._wake.set()

    async def _catch_up(self) -> bool:
        """Read the log directly; True when the caller should look at its state again."""
        limit = min(self._reader.batch, self._max_buffer)
        try:
            entries = await self._reader.log.read(self.team_id, self._tail, limit)
        except TooOld as e:
            self._fail(e)
            self._reader._detach(self)
            return True
        except TRANSIENT:
            await self._backoff.sleep()
            return True
        self._backoff.reset()
        i = bisect_right(entries, self._tail, key=lambda e: e[0])
        if i == len(entries):
            return False  # nothing readable yet (a restarted Redis not yet refilled): wait
        self._buffer.extend(entries[i:])
        self._tail = entries[-1][0]
        return True


class LogReader:
    """Subscriptions to many workspaces over any :class:`TailableLog`, fed by one task."""

    def __init__(
        self,
        log: TailableLog,
        *,
        batch: int = 1000,
        max_buffer: int = 1000,
        block_s: float = 2.0,
        backoff_cap_s: float = 5.0,
    ) -> None:
        self.log = log
        self.batch = batch
        self.max_buffer = max_buffer
        self.block_s = block_s
        self.backoff_cap_s = backoff_cap_s
        self._tail = log.open_tail()
        self._follows: dict[str, _Follow] = {}
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def subscribe(self, team_id: str, after: int = 0) -> Subscription:
        """Follow ``team_id`` from the event after offset ``after``."""
        if self._closed:
            raise RuntimeError("LogReader is closed")
        check_team(team_id)
        if after < 0:
            raise ValueError(f"offset must be >= 0, got {after}")
        follow = self._follows.get(team_id)
        is_new = follow is None
        if follow is None:
            follow = self._follows[team_id] = _Follow(team_id, after)
        sub = Subscription(self, follow, after, self.max_buffer)
        follow.subs.add(sub)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        if is_new:  # the pending read does not cover this workspace yet
            self._changed.set()
            await self._tail.wake()
        return sub

    @property
    def following(self) -> int:
        """How many workspaces the live feed reads."""
        return len(self._follows)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for follow in self._follows.values():
            for sub in follow.subs:
                sub._end()
        self._follows.clear()
        await self._tail.close()

    def _detach(self, sub: Subscription) -> None:
        follow = sub._follow
        follow.subs.discard(sub)
        if not follow.subs and self._follows.get(follow.team_id) is follow:
            del self._follows[follow.team_id]  # the next read leaves it out

    async def _run(self) -> None:
        backoff = _Backoff(cap_s=self.backoff_cap_s)
        while True:
            if not self._follows:
                self._changed.clear()
                await self._changed.wait()
                continue
            cursors = {team_id: f.cursor for team_id, f in self._follows.items()}
            try:
                batches = await self._tail.next_batch(cursors, self.batch, self.block_s)
                for team_id, entries in batches:
                    await self._dispatch(team_id, cursors[team_id], entries)
            except TRANSIENT as e:
                logger.warning("change log unreachable, retrying: %r", e)
                await backoff.sleep()
                continue
            except Exception:
                logger.exception("change log reader failed, retrying")
                await backoff.sleep()
                continue
            backoff.reset()

    async def _dispatch(self, team_id: str, cursor: int, entries: list[Entry]) -> None:
        follow = self._follows.get(team_id)
        if follow is None or follow.cursor != cursor or not entries:
            return
        if entries[0][0] != cursor + 1:
            # A hole above the cursor: only the log's floor can say whether it is a loss.
            try:
                entries = await self.log.read(team_id, cursor, self.batch)
            except TooOld as e:
                self._too_old(follow, cursor, e)
                return
            if self._follows.get(team_id) is not follow or follow.cursor != cursor:
                return
            if not entries:
                return
        for sub in list(follow.subs):
            sub._offer(cursor, entries)
        follow.cursor = entries[-1][0]

    def _too_old(self, follow: _Follow, cursor: int, error: TooOld) -> None:
        """Fail the live subscribers below the floor; the feed restarts at the floor."""
        if self._follows.get(follow.team_id) is not follow or follow.cursor != cursor:
            return
        for sub in list(follow.subs):
            if sub._tail >= cursor and sub._tail + 1 < error.floor:
                sub._fail(TooOld(follow.team_id, sub._tail, error.floor))
                self._detach(sub)
            else:
                sub._wake.set()
        follow.cursor = max(cursor, error.floor - 1)
