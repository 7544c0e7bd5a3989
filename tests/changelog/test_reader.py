"""LogReader: live following, catch-up and TooOld, identical on both backends."""

from __future__ import annotations

import asyncio

import pytest

from changelog import LogReader, TooOld

from .conftest import FakeClock, MakeLog, events, nothing_more, take


async def test_subscribe_then_append_arrives_in_order(make_log: MakeLog, team: str) -> None:
    log = make_log()
    reader = LogReader(log)
    try:
        sub = await reader.subscribe(team, after=0)
        await log.append(team, events(1, 3))
        await log.append(team, events(4, 6))
        assert await take(sub, 6) == events(1, 6)
        assert sub.position == 6
        await nothing_more(sub)
    finally:
        await reader.close()


async def test_buffered_counts_the_rest_of_a_read(make_log: MakeLog, team: str) -> None:
    log = make_log()
    reader = LogReader(log)
    try:
        sub = await reader.subscribe(team, after=0)
        await log.append(team, events(1, 4))  # one append: one read of four
        first = await anext(sub)
        rest = [sub.buffered()]
        for _ in range(3):
            await anext(sub)
            rest.append(sub.buffered())
        assert first[0] == 1 and rest == [3, 2, 1, 0]
    finally:
        await reader.close()


async def test_subscribe_replays_history_after_offset(make_log: MakeLog, team: str) -> None:
    log = make_log()
    await log.append(team, events(1, 10))
    reader = LogReader(log)
    try:
        sub = await reader.subscribe(team, after=4)
        assert await take(sub, 6) == events(5, 10)
        await log.append(team, events(11, 12))
        assert await take(sub, 2) == events(11, 12)
        await nothing_more(sub)
    finally:
        await reader.close()


async def test_subscribers_at_different_offsets(make_log: MakeLog, team: str) -> None:
    log = make_log()
    await log.append(team, events(1, 20))
    reader = LogReader(log)
    try:
        late = await reader.subscribe(team, after=15)
        assert await take(late, 5) == events(16, 20)
        early = await reader.subscribe(team, after=2)  # behind the live feed: catches up
        await log.append(team, events(21, 25))
        assert await take(early, 23) == events(3, 25)
        assert await take(late, 5) == events(21, 25)
        await nothing_more(early)
        await nothing_more(late)
    finally:
        await reader.close()


async def test_slow_consumer_with_tiny_buffer_misses_nothing(make_log: MakeLog, team: str) -> None:
    log = make_log(max_len=None)
    reader = LogReader(log, max_buffer=3, batch=4)
    try:
        sub = await reader.subscribe(team)
        for first in range(1, 200, 10):
            await log.append(team, events(first, first + 9))
        assert await take(sub, 200) == events(1, 200)
        await nothing_more(sub)
    finally:
        await reader.close()


async def test_too_old_at_subscribe(make_log: MakeLog, team: str) -> None:
    log = make_log(max_len=5)
    await log.append(team, events(1, 10))
    reader = LogReader(log)
    try:
        sub = await reader.subscribe(team, after=2)
        with pytest.raises(TooOld) as err:
            await take(sub, 1)
        assert err.value.floor == 6
        with pytest.raises(TooOld):
            await anext(sub)  # stays failed
        ok = await reader.subscribe(team, after=5)
        assert await take(ok, 5) == events(6, 10)
    finally:
        await reader.close()


async def test_falling_behind_retention_raises_too_old(
    make_log: MakeLog, team: str, clock: FakeClock
) -> None:
    log = make_log(max_len=None, max_age_s=10)
    reader = LogReader(log, max_buffer=2, batch=2)
    try:
        sub = await reader.subscribe(team)
        await log.append(team, events(1, 6))
        assert await take(sub, 1) == events(1, 1)
        await asyncio.sleep(0.2)  # the feed moves on; this subscriber's buffer is full
        clock.advance(11)
        await log.trim()
        got = []
        with pytest.raises(TooOld):
            async with asyncio.timeout(5):
                async for entry in sub:
                    got.append(entry)
        assert got == events(2, len(got) + 1)  # what it had buffered, then the error
        assert len(got) < 5
    finally:
        await reader.close()


async def test_close_ends_iteration(make_log: MakeLog, team: str) -> None:
    log = make_log()
    reader = LogReader(log)
    sub = await reader.subscribe(team)
    other = await reader.subscribe(team + "B")
    assert reader.following == 2
    waiting = asyncio.create_task(take(sub, 1))
    await asyncio.sleep(0.05)
    await sub.close()
    with pytest.raises(StopAsyncIteration):
        await waiting
    assert reader.following == 1
    await reader.close()
    with pytest.raises(StopAsyncIteration):
        await anext(other)
    with pytest.raises(RuntimeError):
        await reader.subscribe(team)


async def test_many_workspaces(make_log: MakeLog, team: str) -> None:
    log = make_log()
    reader = LogReader(log)
    teams = [f"{team}N{i}" for i in range(50)]
    try:
        subs = [await reader.subscribe(t) for t in teams]
        for i, t in enumerate(teams):
            await log.append(t, events(1, 1 + i % 3, t))
        for i, (t, sub) in enumerate(zip(teams, subs, strict=True)):
            assert await take(sub, 1 + i % 3) == events(1, 1 + i % 3, t)
        assert reader.following == 50
    finally:
        await reader.close()


async def test_new_subscription_interrupts_pending_read(make_log: MakeLog, team: str) -> None:
    """A long block must not delay a workspace followed while the read is pending."""
    log = make_log()
    reader = LogReader(log, block_s=30)
    try:
        await reader.subscribe(team)
        await asyncio.sleep(0.2)  # the blocking read is now pending on `team` alone
        sub = await reader.subscribe(team + "B")
        await log.append(team + "B", events(1, 1))
        assert await take(sub, 1, timeout_s=3) == events(1, 1)
    finally:
        await reader.close()
