"""Which workspaces this edge holds: loaded on first need, kept current, evicted under a budget.

A cold workspace costs the origin one snapshot however many clients ask for it at once (a
reconnect storm): concurrent :meth:`WorkspaceCache.get` calls share one load. Once loaded, one
task per workspace follows the change log from the snapshot's offset, so no update falls between
the two. When the log can no longer continue the cache (``TooOld``, a gap, an event that does not
apply) the task reloads a snapshot, swaps it in, and tells the RTM layer through ``on_resync``
so connected clients drop theirs; until the swap the previous copy keeps answering.

Waiting for the cache to catch up (a client resuming from an offset a fresh snapshot has not
reached yet, a brand-new user whose ``team_join`` is still on its way) is :meth:`wait_until`:
the follower sets an event each time the workspace moves, so waiters wake at once, never poll.

I/O is injected: ``load_snapshot(team_id)`` yields snapshot pages (the adapter picks a regional
copy or the origin) and ``subscribe(team_id, after)`` is :meth:`changelog.LogReader.subscribe`
or anything shaped like it.

With ``freeze_gc`` (the running edge), every completed load ends with ``gc.freeze()``
(:mod:`flannel.gcstats`), so the loaded workspace never makes a full collection walk it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from changelog import TooOld
from flannel import gcstats
from flannel.cache.queries import JSON
from flannel.cache.workspace import SnapshotError, Workspace, WorkspaceBuilder

logger = logging.getLogger(__name__)

Entry = tuple[int, bytes]
INLINE_BUILD = 20_000
"""Snapshots with more items than this build their indexes in a worker thread."""


class EventStream(Protocol):
    """One workspace's events after an offset, as :class:`changelog.Subscription` gives."""

    def __aiter__(self) -> EventStream: ...

    async def __anext__(self) -> Entry: ...

    async def close(self) -> None: ...

    # Optional: ``buffered() -> int``, how many events follow at once (the rest of a read):
    # ``on_event`` is told whether more follow, so a consumer can hold its writes for them.


LoadSnapshot = Callable[[str], AsyncIterator[JSON]]
Subscribe = Callable[[str, int], Awaitable[EventStream]]
#: ``(team_id, event, more)``: ``more`` when further events of the workspace are in hand and
#: are applied in the same loop turn (the rest of one read of the log).
OnEvent = Callable[[str, JSON, bool], Awaitable[None] | None]
OnResync = Callable[[str], Awaitable[None] | None]


@dataclass
class CacheStats:
    loads: int = 0  # snapshot loads started (what the origin or the regional copy paid for)
    load_failures: int = 0
    hits: int = 0  # get() answered from a loaded workspace
    misses: int = 0  # get() that waited for a load (its own or a shared one)
    evictions: int = 0
    resyncs: int = 0  # reloads forced by the change log (TooOld, gap, bad event)


class _Slot:
    """One workspace: loading, then loaded and followed."""

    __slots__ = ("follower", "loading", "moved", "team_id", "workspace")

    def __init__(self, team_id: str) -> None:
        self.team_id = team_id
        self.workspace: Workspace | None = None
        self.loading: asyncio.Task[Workspace] | None = None
        self.follower: asyncio.Task[None] | None = None
        self.moved = asyncio.Event()  # set (then replaced) whenever the workspace moves

    def advance(self) -> None:
        """Wake whoever waits for this workspace to move (see :meth:`WorkspaceCache.wait_until`)."""
        self.moved.set()
        self.moved = asyncio.Event()


class WorkspaceCache:
    """Loaded workspaces of this edge, least recently used first."""

    def __init__(
        self,
        load_snapshot: LoadSnapshot,
        subscribe: Subscribe,
        *,
        max_bytes: int,
        on_event: OnEvent | None = None,
        on_resync: OnResync | None = None,
        retry_s: float = 0.5,
        retry_cap_s: float = 30.0,
        freeze_gc: bool = False,
    ) -> None:
        self._load_snapshot = load_snapshot
        self._subscribe = subscribe
        self.max_bytes = max_bytes
        self._on_event = on_event
        self._on_resync = on_resync
        self._retry_s = retry_s
        self._retry_cap_s = retry_cap_s
        self._freeze_gc = freeze_gc
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._pins: dict[str, int] = {}
        self._stopping: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.stats = CacheStats()

    # -- public --------------------------------------------------------------------------------

    async def get(self, team_id: str) -> Workspace:
        """The workspace, loading it if cold; one load however many callers wait for it.

        A failed load raises in every waiter; the next call tries again.
        """
        if self._closed:
            raise RuntimeError("WorkspaceCache is closed")
        slot = self._slots.get(team_id)
        if slot is not None and slot.workspace is not None:
            self.stats.hits += 1
            self._slots.move_to_end(team_id)
            return slot.workspace
        self.stats.misses += 1
        if slot is None:
            slot = self._slots[team_id] = _Slot(team_id)
            slot.loading = asyncio.create_task(self._first_load(slot), name=f"flannel-load-{team_id}")
            slot.loading.add_done_callback(_consume)
        assert slot.loading is not None
        # A waiter that gives up (client gone) must not cancel the load the others share.
        return await asyncio.shield(slot.loading)

    async def wait_until(
        self, team_id: str, ready: Callable[[Workspace], bool], timeout_s: float
    ) -> Workspace:
        """The workspace once ``ready(workspace)`` holds, or as it is after ``timeout_s``.

        Woken by every applied event and every reload, so it returns as soon as the cache
        has caught up.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            workspace = await self.get(team_id)
            remaining = deadline - loop.time()
            slot = self._slots.get(team_id)
            if ready(workspace) or remaining <= 0 or slot is None:
                return workspace
            try:
                await asyncio.wait_for(slot.moved.wait(), remaining)
            except TimeoutError:
                return await self.get(team_id)

    def hit(self, team_id: str, count: bool = True) -> Workspace | None:
        """The workspace if loaded, counted and ordered as :meth:`get` does a hit, without a
        coroutine; None if not loaded (nothing counted: :meth:`get` loads it). ``count=False``
        only looks: the same answer, nothing counted or reordered."""
        slot = self._slots.get(team_id)
        if slot is None or slot.workspace is None or self._closed:
            return None
        if count:
            self.stats.hits += 1
            self._slots.move_to_end(team_id)
        return slot.workspace

    def peek(self, team_id: str) -> Workspace | None:
        """The workspace if loaded, without loading it or touching the LRU order."""
        slot = self._slots.get(team_id)
        return None if slot is None else slot.workspace

    def offset(self, team_id: str) -> int | None:
        """The loaded workspace's offset (None when not loaded)."""
        workspace = self.peek(team_id)
        return None if workspace is None else workspace.offset

    def loaded(self) -> list[str]:
        """Loaded workspace ids, least recently used first."""
        return [team for team, slot in self._slots.items() if slot.workspace is not None]

    def total_bytes(self) -> int:
        return sum(s.workspace.estimate_bytes() for s in self._slots.values() if s.workspace is not None)

    def pin(self, team_id: str) -> None:
        """A connection of this workspace opened: never evict it while any stays open."""
        self._pins[team_id] = self._pins.get(team_id, 0) + 1

    def unpin(self, team_id: str) -> None:
        count = self._pins.get(team_id, 0) - 1
        if count > 0:
            self._pins[team_id] = count
            return
        self._pins.pop(team_id, None)
        self._enforce_budget()  # what was over budget only because it was pinned can go now

    def pins(self, team_id: str) -> int:
        return self._pins.get(team_id, 0)

    async def close(self) -> None:
        """Stop every load and follower; later calls to :meth:`get` raise."""
        self._closed = True
        tasks: list[asyncio.Task[Any]] = [*self._stopping]
        for slot in self._slots.values():
            tasks.extend(t for t in (slot.loading, slot.follower) if t is not None)
            slot.advance()
        self._slots.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- loading -------------------------------------------------------------------------------

    async def _first_load(self, slot: _Slot) -> Workspace:
        try:
            workspace = await self._load(slot.team_id)
        except BaseException:
            if self._slots.get(slot.team_id) is slot:
                del self._slots[slot.team_id]
            raise
        slot.workspace = workspace
        slot.loading = None
        self._slots.move_to_end(slot.team_id)
        slot.follower = asyncio.create_task(self._follow(slot), name=f"flannel-follow-{slot.team_id}")
        self._enforce_budget(keep=slot.team_id)
        return workspace

    async def _load(self, team_id: str) -> Workspace:
        self.stats.loads += 1
        builder = WorkspaceBuilder()
        pages = self._load_snapshot(team_id)
        try:
            async for page in pages:
                builder.add_page(page)
            if builder.items > INLINE_BUILD:
                # ~0.5 s for 32k users: off the event loop, which keeps serving meanwhile.
                workspace = await asyncio.to_thread(builder.finish)
            else:
                workspace = builder.finish()
        except BaseException:
            self.stats.load_failures += 1
            raise
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
        if workspace.team_id != team_id:
            self.stats.load_failures += 1
            raise SnapshotError(f"asked for the snapshot of {team_id}, got {workspace.team_id}")
        if self._freeze_gc:
            # What a load built lives as long as the workspace: out of the collector's sight,
            # so no full collection walks it while serving (see flannel.gcstats).
            gcstats.freeze()
        return workspace

    # -- following the change log --------------------------------------------------------------

    async def _follow(self, slot: _Slot) -> None:
        """Apply the log to the slot's workspace for as long as it is cached."""
        delay = 0.0
        while True:
            workspace = slot.workspace
            assert workspace is not None
            loaded_at = workspace.offset
            reason: str | None
            try:
                stream = await self._subscribe(slot.team_id, workspace.offset)
            except TooOld as e:
                reason = str(e)
            except Exception:
                logger.exception("subscribing to the change log of %s failed; retrying", slot.team_id)
                await asyncio.sleep(self._retry_s)
                continue
            else:
                try:
                    reason = await self._apply_stream(slot, workspace, stream)
                except TooOld as e:
                    reason = str(e)
                except Exception as e:
                    logger.exception("applying the change log of %s failed", slot.team_id)
                    reason = repr(e)
                finally:
                    await stream.close()
                if reason is None:
                    logger.warning("change log of %s ended; dropping the workspace", slot.team_id)
                    self._forget(slot)
                    return
            # Reload; back off if reloads keep failing before a single event applies (a
            # snapshot older than the log's floor would otherwise reload in a tight loop).
            if workspace.offset != loaded_at:
                delay = 0.0
            if delay:
                await asyncio.sleep(delay)
            delay = min(max(2 * delay, self._retry_s), self._retry_cap_s)
            logger.info("resyncing workspace %s at offset %d: %s", slot.team_id, workspace.offset, reason)
            await self._resync(slot)

    async def _apply_stream(self, slot: _Slot, workspace: Workspace, stream: EventStream) -> str | None:
        """Apply events until the stream ends (None) or cannot continue (the reason)."""
        buffered = getattr(stream, "buffered", None)
        async for offset, payload in stream:
            event = orjson.loads(payload)
            event.setdefault("offset", offset)
            before = workspace.offset
            if not workspace.apply(event):
                return f"gap: offset {event['offset']} after {before}"
            if workspace.offset != before:
                more = buffered is not None and buffered() > 0
                await _notify(self._on_event, slot.team_id, event, more)
                slot.advance()
        return None

    async def _resync(self, slot: _Slot) -> None:
        delay = self._retry_s
        while True:
            try:
                workspace = await self._load(slot.team_id)
                break
            except Exception:
                logger.exception("reloading workspace %s failed; retrying", slot.team_id)
                await asyncio.sleep(delay)
                delay = min(2 * delay, self._retry_cap_s)
        slot.workspace = workspace
        self.stats.resyncs += 1
        slot.advance()
        await _notify(self._on_resync, slot.team_id)
        self._enforce_budget(keep=slot.team_id)

    # -- eviction ------------------------------------------------------------------------------

    def _enforce_budget(self, keep: str | None = None) -> None:
        """Evict least recently used, unpinned workspaces until under ``max_bytes``.

        ``keep`` (the workspace just loaded) stays even alone over budget: evicting what a
        caller is about to use would only reload it.
        """
        total = self.total_bytes()
        for team_id, slot in list(self._slots.items()):
            if total <= self.max_bytes:
                break
            if slot.workspace is None or team_id == keep or self._pins.get(team_id):
                continue
            total -= slot.workspace.estimate_bytes()
            self.stats.evictions += 1
            self._forget(slot)

    def _forget(self, slot: _Slot) -> None:
        if self._slots.get(slot.team_id) is slot:
            del self._slots[slot.team_id]
        slot.advance()  # waiters load it again
        task = slot.follower
        slot.follower = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)


async def _notify(callback: Callable[..., Awaitable[None] | None] | None, *args: Any) -> None:
    """Call an RTM-layer hook; its failure is logged, never allowed to stop the follower."""
    if callback is None:
        return
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("cache callback %r failed", callback)


def _consume(task: asyncio.Task[Any]) -> None:
    """Mark a load's failure as seen even when every waiter has gone away."""
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.exception()
