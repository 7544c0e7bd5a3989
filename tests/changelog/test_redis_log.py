"""What only the Redis backend has: its key layout, the epoch, one XREAD for many workspaces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from changelog import LogReader, RedisLog, TooOld

from .conftest import FakeClock, events, take

pytestmark = pytest.mark.redis


@pytest.fixture
async def rlog(redis_url: str, redis_prefix: str, clock: FakeClock) -> AsyncIterator[RedisLog]:
    log = RedisLog(redis_url, redis_prefix, 100, 60.0, clock=clock, trim_every_s=None)
    yield log
    await log.close()


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_key_layout(
    rlog: RedisLog, admin: Redis, redis_prefix: str, team: str, clock: FakeClock
) -> None:
    await rlog.append(team, events(1, 2))
    rows = await admin.xrange(f"{redis_prefix}log:{team}")
    stamp = str(int(clock() * 1000)).encode()
    assert rows == [
        (b"1-1", {b"d": b"e1", b"t": stamp}),
        (b"2-1", {b"d": b"e2", b"t": stamp}),
    ]
    assert await admin.get(f"{redis_prefix}log:{team}:floor") == b"1"
    epoch = await rlog.epoch()
    assert await admin.get(f"{redis_prefix}log:epoch") == epoch.encode()
    # Every key this workspace caused, anywhere in the database, lives under the prefix.
    touched = [key async for key in admin.scan_iter(match=f"*{team}*")]
    assert touched and all(key.startswith(redis_prefix.encode()) for key in touched)


async def test_redis_rejects_replayed_ids_itself(rlog: RedisLog, admin: Redis, team: str) -> None:
    await rlog.append(team, events(1, 3))
    with pytest.raises(Exception, match="equal or smaller"):
        await admin.xadd(f"{rlog.prefix}log:{team}", {"d": b"x"}, id="2-1")


async def test_epoch_is_stable_until_redis_loses_data(
    rlog: RedisLog, redis_url: str, redis_prefix: str, admin: Redis
) -> None:
    first = await rlog.epoch()
    other = RedisLog(redis_url, redis_prefix)
    try:
        assert await other.epoch() == first
        await admin.delete(f"{redis_prefix}log:epoch")  # what a restart without persistence does
        second = await other.epoch()
        assert second != first
        assert await rlog.epoch() == second
    finally:
        await other.close()


async def test_lost_stream_is_never_a_silent_gap(
    rlog: RedisLog, admin: Redis, redis_prefix: str, team: str
) -> None:
    await rlog.append(team, events(1, 10))
    lost = [key async for key in admin.scan_iter(match=f"{redis_prefix}*")]
    await admin.delete(*lost)  # Redis lost everything
    assert await rlog.read(team, 4) == []  # nothing to read yet, but no false promise either
    await rlog.append(team, events(6, 12))  # the relay republishes what its outbox retained
    assert await rlog.read(team, 5) == events(6, 12)
    with pytest.raises(TooOld) as err:
        await rlog.read(team, 4)
    assert err.value.floor == 6


async def test_age_index_tracks_oldest_entry(
    rlog: RedisLog, admin: Redis, redis_prefix: str, team: str, clock: FakeClock
) -> None:
    index = f"{redis_prefix}logidx:oldest"
    await rlog.append(team, events(1, 2))
    start = int(clock() * 1000)
    assert await admin.zscore(index, team) == start
    clock.advance(40)
    await rlog.append(team, events(3, 3))
    assert await admin.zscore(index, team) == start
    clock.advance(30)  # 1..2 are 70 s old, 3 is 30 s old
    await rlog.trim()
    assert await admin.zscore(index, team) == start + 40_000
    clock.advance(60)
    await rlog.trim()
    assert await admin.zscore(index, team) is None
    assert await rlog.floor(team) == 4


async def _clients(admin: Redis, name: str) -> list[dict[str, Any]]:
    return [c for c in await admin.client_list() if c.get("name") == name]


async def test_one_xread_connection_for_fifty_workspaces(
    rlog: RedisLog, admin: Redis, redis_url: str, redis_prefix: str, team: str
) -> None:
    reader = LogReader(RedisLog(redis_url, redis_prefix), block_s=5)
    name = f"{redis_prefix}tail"
    teams = [f"{team}N{i}" for i in range(50)]
    try:
        subs = [await reader.subscribe(t) for t in teams]
        for _ in range(250):  # until the blocking read is in flight
            blocked = await _clients(admin, name)
            if any(c["cmd"] == "xread" for c in blocked):
                break
            await asyncio.sleep(0.02)
        assert len(blocked) == 1 and blocked[0]["cmd"] == "xread"
        for t in teams:
            await rlog.append(t, events(1, 2, t))
        for t, sub in zip(teams, subs, strict=True):
            assert await take(sub, 2) == events(1, 2, t)
        after = await _clients(admin, name)
        assert [c["id"] for c in after] == [blocked[0]["id"]]  # still the same one connection
    finally:
        await reader.close()
        await reader.log.close()
    assert await _clients(admin, name) == []
    assert [key async for key in admin.scan_iter(match=f"{redis_prefix}logwake:*")] == []
