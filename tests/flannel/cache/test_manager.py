"""WorkspaceCache: single-flight loads, following the log, resyncs, LRU eviction under a budget."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from changelog import TooOld
from flannel.cache import SnapshotError, Workspace, WorkspaceCache
from flannel.cache import manager as manager_module
from tests.flannel.cache import JSON, base_state, event, pages_of
from wire.state import WorkspaceState


class FakeStream:
    """A subscription: every entry appended after ``after``, in append order (duplicates and
    holes included, to test the cache's own checks); TooOld once the floor passes it."""

    def __init__(self, log: FakeLog, team_id: str, after: int) -> None:
        self.log, self.team_id, self.last = log, team_id, after
        entries = log.entries.setdefault(team_id, [])
        self.index = next((i for i, (offset, _) in enumerate(entries) if offset > after), len(entries))
        self.wake = asyncio.Event()
        self.closed = False

    def __aiter__(self) -> FakeStream:
        return self

    def buffered(self) -> int:
        """Entries appended and not yet yielded (what a read of the log has in hand)."""
        return len(self.log.entries.get(self.team_id, [])) - self.index

    async def __anext__(self) -> tuple[int, bytes]:
        while True:
            if self.closed or self.log.ended:
                raise StopAsyncIteration
            floor = self.log.floor.get(self.team_id, 1)
            if self.last + 1 < floor:
                raise TooOld(self.team_id, self.last, floor)
            entries = self.log.entries[self.team_id]
            if self.index < len(entries):
                entry = entries[self.index]
                self.index += 1
                self.last = max(self.last, entry[0])
                return entry
            self.wake.clear()
            await self.wake.wait()

    async def close(self) -> None:
        self.closed = True
        self.wake.set()


class FakeLog:
    def __init__(self) -> None:
        self.entries: dict[str, list[tuple[int, bytes]]] = {}
        self.floor: dict[str, int] = {}
        self.streams: list[FakeStream] = []
        self.ended = False

    async def subscribe(self, team_id: str, after: int) -> FakeStream:
        stream = FakeStream(self, team_id, after)
        self.streams.append(stream)
        return stream

    def inject(self, team_id: str, e: JSON) -> None:
        self.entries.setdefault(team_id, []).append((e["offset"], orjson.dumps(e)))
        self.poke()

    def trim(self, team_id: str, floor: int) -> None:
        self.floor[team_id] = floor
        self.poke()

    def end(self) -> None:
        self.ended = True
        self.poke()

    def poke(self) -> None:
        for stream in self.streams:
            stream.wake.set()

    def open_streams(self, team_id: str) -> int:
        return sum(1 for s in self.streams if s.team_id == team_id and not s.closed)


class FakeOrigin:
    """Holds each workspace's true state; serves snapshots of it and publishes its events."""

    def __init__(self, log: FakeLog) -> None:
        self.log = log
        self.states: dict[str, WorkspaceState] = {}
        self.stale: dict[str, WorkspaceState] = {}  # served instead of the truth when set
        self.loads: Counter[str] = Counter()
        self.gate: asyncio.Event | None = None
        self.failures = 0
        self.cut = False

    def add(self, team_id: str) -> WorkspaceState:
        state = base_state()
        state.team = {**state.team, "id": team_id}
        self.states[team_id] = state
        return state

    def publish(self, team_id: str, kind: str, to_log: bool = True, **fields: Any) -> JSON:
        state = self.states[team_id]
        e = event(state.offset + 1, kind, **fields)
        assert state.apply(copy.deepcopy(e))
        if to_log:
            self.log.inject(team_id, e)
        return e

    async def load(self, team_id: str) -> AsyncIterator[JSON]:
        self.loads[team_id] += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("origin unreachable")
        pages = pages_of(self.stale.get(team_id) or self.states[team_id])
        for page in pages[:-1] if self.cut else pages:
            yield page


async def until(condition: Callable[[], bool]) -> None:
    """Poll: the conditions span the cache's tasks and the fakes, with no one event to wait on."""
    async with asyncio.timeout(2):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


def setup(*teams: str, **kwargs: Any) -> tuple[FakeLog, FakeOrigin, WorkspaceCache]:
    log = FakeLog()
    origin = FakeOrigin(log)
    for team in teams:
        origin.add(team)
    kwargs.setdefault("max_bytes", 10**9)
    return log, origin, WorkspaceCache(origin.load, log.subscribe, **kwargs)


# -- loading -----------------------------------------------------------------------------------


async def test_concurrent_gets_of_a_cold_workspace_share_one_load() -> None:
    _, origin, cache = setup("T1")
    origin.gate = asyncio.Event()
    waiters = [asyncio.create_task(cache.get("T1")) for _ in range(100)]
    await asyncio.sleep(0.01)
    origin.gate.set()
    loaded = await asyncio.gather(*waiters)
    assert all(ws is loaded[0] for ws in loaded) and loaded[0].team_id == "T1"
    assert origin.loads["T1"] == 1
    assert (cache.stats.loads, cache.stats.misses, cache.stats.hits) == (1, 100, 0)
    assert await cache.get("T1") is loaded[0] and cache.stats.hits == 1
    assert cache.offset("T1") == 10 and cache.offset("T2") is None
    await cache.close()


async def test_a_failed_load_fails_every_waiter_and_the_next_get_retries() -> None:
    _, origin, cache = setup("T1")
    origin.gate, origin.failures = asyncio.Event(), 1
    waiters = [asyncio.create_task(cache.get("T1")) for _ in range(10)]
    await asyncio.sleep(0.01)
    origin.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert origin.loads["T1"] == 1 and cache.peek("T1") is None
    assert (await cache.get("T1")).offset == 10
    assert origin.loads["T1"] == 2 and cache.stats.load_failures == 1
    await cache.close()


async def test_a_waiter_giving_up_does_not_cancel_the_shared_load() -> None:
    _, origin, cache = setup("T1")
    origin.gate = asyncio.Event()
    quitter, stayer = asyncio.create_task(cache.get("T1")), asyncio.create_task(cache.get("T1"))
    await asyncio.sleep(0.01)
    quitter.cancel()
    origin.gate.set()
    assert (await stayer).team_id == "T1" and origin.loads["T1"] == 1
    await cache.close()


async def test_incomplete_or_foreign_snapshots_are_refused() -> None:
    _, origin, cache = setup("T1", "T2")
    origin.cut = True
    with pytest.raises(SnapshotError):
        await cache.get("T1")
    origin.cut = False
    origin.stale["T2"] = origin.states["T1"]
    with pytest.raises(SnapshotError):
        await cache.get("T2")
    assert (await cache.get("T1")).team_id == "T1"
    await cache.close()


async def test_wait_until_wakes_when_the_workspace_moves_and_gives_up_at_the_deadline() -> None:
    _, origin, cache = setup("T1")
    assert (await cache.wait_until("T1", lambda ws: ws.offset >= 10, 0.0)).offset == 10
    waiter = asyncio.create_task(cache.wait_until("T1", lambda ws: ws.offset >= 12, 30.0))
    await asyncio.sleep(0.01)
    origin.publish("T1", "message", channel="C1", user="U1", text="one", ts="1700000000.000011")
    await asyncio.sleep(0.01)
    assert not waiter.done()  # 11 is not enough
    origin.publish("T1", "message", channel="C1", user="U1", text="two", ts="1700000000.000012")
    assert (await asyncio.wait_for(waiter, 1.0)).offset == 12  # woken by the event, long before 30 s
    late = await cache.wait_until("T1", lambda ws: ws.offset >= 99, 0.05)
    assert late.offset == 12  # as it is at the deadline
    await cache.close()


async def test_wait_until_follows_a_reload() -> None:
    log, origin, cache = setup("T1")
    await cache.get("T1")
    waiter = asyncio.create_task(cache.wait_until("T1", lambda ws: ws.offset >= 11, 30.0))
    await asyncio.sleep(0.01)
    origin.publish("T1", "message", to_log=False, channel="C1", user="U1", text="x", ts="1700000000.000011")
    log.trim("T1", 12)  # the log can no longer continue the cache: it reloads the snapshot at 11
    assert (await asyncio.wait_for(waiter, 5.0)).offset == 11
    await cache.close()


async def test_large_snapshots_build_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "INLINE_BUILD", 0)
    _, _, cache = setup("T1")
    assert (await cache.get("T1")).search_users("alice")[0]["id"] == "U1"
    await cache.close()


# -- following the change log ------------------------------------------------------------------


async def test_events_are_applied_then_announced_in_order() -> None:
    seen: list[tuple[str, int, str]] = []

    async def on_event(team_id: str, e: JSON, more: bool) -> None:
        await asyncio.sleep(0)  # an awaiting hook must still see events strictly in order
        seen.append((team_id, e["offset"], e["type"]))

    log, origin, cache = setup("T1", on_event=on_event)
    ws = await cache.get("T1")
    for i in range(5):
        origin.publish("T1", "message", channel="C1", user="U1", text=str(i))
    origin.publish("T1", "channel_rename", channel={"id": "G1", "name": "renamed"})
    await until(lambda: len(seen) == 6)
    assert seen == [("T1", o, "message") for o in range(11, 16)] + [("T1", 16, "channel_rename")]
    assert ws.offset == 16 and [c["id"] for c in ws.search_conversations("U1", "renamed")] == ["G1"]
    log.inject("T1", event(16, "message", channel="C1", text="again"))  # a duplicate delivery
    origin.publish("T1", "member_joined_channel", channel="G1", user="U3", channel_type="G")
    await until(lambda: len(seen) == 7)
    assert seen[-1][1] == 17 and ws.can_see("U3", "G1")
    await cache.close()


async def test_the_hook_is_told_whether_more_events_of_the_same_read_follow() -> None:
    seen: list[tuple[int, bool]] = []

    def on_event(team_id: str, e: JSON, more: bool) -> None:
        seen.append((e["offset"], more))

    _, origin, cache = setup("T1", on_event=on_event)
    await cache.get("T1")
    for i in range(5):  # appended in one go: one read of the log
        origin.publish("T1", "message", channel="C1", user="U1", text=str(i))
    await until(lambda: len(seen) == 5)
    origin.publish("T1", "message", channel="C1", user="U1", text="alone")
    await until(lambda: len(seen) == 6)
    assert seen == [(11, True), (12, True), (13, True), (14, True), (15, False), (16, False)]
    await cache.close()


async def test_a_failing_hook_does_not_stop_the_follower() -> None:
    calls: list[int] = []

    def on_event(team_id: str, e: JSON, more: bool) -> None:
        calls.append(e["offset"])
        if len(calls) == 1:
            raise RuntimeError("rtm layer bug")

    _, origin, cache = setup("T1", on_event=on_event)
    ws = await cache.get("T1")
    origin.publish("T1", "message", channel="C1", text="a")
    origin.publish("T1", "message", channel="C1", text="b")
    await until(lambda: ws.offset == 12 and len(calls) == 2)
    await cache.close()


async def test_too_old_reloads_the_snapshot_and_announces_a_resync() -> None:
    resynced: list[str] = []
    log, origin, cache = setup("T1", on_resync=resynced.append)
    old = await cache.get("T1")
    origin.publish("T1", "team_join", to_log=False, user=base_state().users["U1"] | {"id": "U7"})
    origin.publish("T1", "message", to_log=False, channel="C1", text="missed")
    origin.gate = asyncio.Event()
    log.trim("T1", floor=13)  # the edge never saw 11 and 12, and the log no longer has them
    await until(lambda: origin.loads["T1"] == 2)
    assert await cache.get("T1") is old  # the previous copy keeps answering during the reload
    origin.gate.set()
    await until(lambda: resynced == ["T1"])
    fresh = await cache.get("T1")
    assert fresh is not old and fresh.offset == 12 and fresh.user("U7")["id"] == "U7"
    assert cache.stats.resyncs == 1 and log.open_streams("T1") == 1
    origin.publish("T1", "message", channel="C1", text="after")
    await until(lambda: fresh.offset == 13)
    await cache.close()


async def test_a_gap_in_the_log_reloads_the_snapshot() -> None:
    resynced: list[str] = []
    log, origin, cache = setup("T1", on_resync=resynced.append)
    await cache.get("T1")
    origin.publish("T1", "channel_archive", to_log=False, channel="C1", user="U1")
    skipped = origin.publish("T1", "message", to_log=False, channel="C1", text="x")
    log.inject("T1", skipped)  # offset 12 arrives after 10
    await until(lambda: resynced == ["T1"])
    ws = cache.peek("T1")
    assert ws is not None and ws.offset == 12 and ws.hello_channels("U1")[0]["is_archived"]
    await cache.close()


async def test_a_stale_snapshot_under_the_log_floor_does_not_reload_in_a_tight_loop() -> None:
    resynced: list[str] = []
    log, origin, cache = setup("T1", on_resync=resynced.append, retry_s=0.02, retry_cap_s=0.05)
    origin.stale["T1"] = copy.deepcopy(origin.states["T1"])
    await cache.get("T1")
    log.trim("T1", floor=50)
    await asyncio.sleep(0.3)
    assert 3 <= origin.loads["T1"] < 20 and len(resynced) == origin.loads["T1"] - 1
    del origin.stale["T1"]
    origin.states["T1"].offset = 49
    await until(lambda: cache.offset("T1") == 49)
    await cache.close()


async def test_a_workspace_whose_log_ends_is_dropped_not_served_stale() -> None:
    log, _, cache = setup("T1")
    await cache.get("T1")
    log.end()
    await until(lambda: cache.peek("T1") is None)
    await cache.close()


# -- memory budget -----------------------------------------------------------------------------


async def test_lru_eviction_respects_the_budget_and_pins() -> None:
    size = Workspace.from_pages(pages_of(base_state())).estimate_bytes()
    log, _, cache = setup("T1", "T2", "T3", "T4", max_bytes=int(2.5 * size))
    await cache.get("T1")
    await cache.get("T2")
    await cache.get("T1")  # T2 is now the least recently used
    await cache.get("T3")
    assert cache.loaded() == ["T1", "T3"] and cache.stats.evictions == 1
    await until(lambda: log.open_streams("T2") == 0)  # its subscription was closed

    cache.pin("T1")
    await cache.get("T2")  # LRU order T1, T3, T2: T1 is pinned, so T3 goes
    assert cache.loaded() == ["T1", "T2"]
    cache.pin("T2")
    await cache.get("T4")  # everything else pinned: over budget rather than drop a live one
    assert cache.loaded() == ["T1", "T2", "T4"] and cache.total_bytes() > cache.max_bytes
    cache.pin("T2")
    cache.unpin("T2")
    assert cache.loaded() == ["T1", "T2", "T4"] and cache.pins("T2") == 1
    cache.unpin("T2")  # its last connection left: now it can go
    assert cache.loaded() == ["T1", "T4"] and cache.stats.evictions == 3
    assert cache.total_bytes() <= cache.max_bytes
    await cache.close()


async def test_close_stops_everything() -> None:
    log, origin, cache = setup("T1", "T2")
    await cache.get("T1")
    origin.gate = asyncio.Event()
    pending = asyncio.create_task(cache.get("T2"))
    await asyncio.sleep(0.01)
    await cache.close()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert log.open_streams("T1") == 0
    with pytest.raises(RuntimeError):
        await cache.get("T1")


async def test_every_completed_load_freezes_the_heap_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(manager_module.gcstats, "freeze", lambda: frozen.append(1))
    _, _, plain = setup("T1")
    await plain.get("T1")
    await plain.close()
    assert frozen == []  # off unless asked (the edge asks: EdgeSettings.gc_freeze)
    log, origin, cache = setup("T1", freeze_gc=True)
    await cache.get("T1")
    assert len(frozen) == 1
    origin.publish("T1", "message", to_log=False, channel="C1", text="missed")
    log.trim("T1", floor=12)  # a reload is a load too
    await until(lambda: cache.stats.resyncs == 1)
    assert len(frozen) == 2
    await cache.close()
