"""The change log end to end: real origin processes, real MariaDB and Redis.

- the origin killed between commit and publish: after a restart the event is published,
  and a reader sees it exactly once;
- Redis restarted while a reader follows: the reader resumes without loss or duplicates;
- a reader asking for an offset below the retention floor is told to resync.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import orjson
import pytest

from changelog import LogReader, RedisLog, TooOld
from origin.service import messages
from origin.service.teams import current_offset
from origin.store.shards import Store
from tests.conftest import ROOT, ServerProcess, free_port
from tests.factories import Team, make_team
from tests.spare_redis import SpareRedis


def origin_args(urls: list[str], redis_url: str, prefix: str, *extra: str) -> list[str]:
    args = ["origin", "--log-level", "warning", "--redis-url", redis_url, "--redis-prefix", prefix]
    for url in urls:
        args += ["--database-url", url]
    return [*args, *extra]


@pytest.fixture
async def shop(mysql_shard_urls: list[str]) -> AsyncIterator[tuple[Store, Team]]:
    store = await Store.open(mysql_shard_urls)
    try:
        yield store, await make_team(store)
    finally:
        await store.close()


async def collect(sub: AsyncIterator[tuple[int, bytes]], n: int, wait_s: float = 20) -> list[dict]:
    out: list[dict] = []

    async def take() -> None:
        async for _offset, payload in sub:
            out.append(orjson.loads(payload))
            if len(out) == n:
                return

    await asyncio.wait_for(take(), wait_s)
    return out


def run_faulty(args: list[str], fault: str) -> int:
    """Run an origin that kills itself at the relay's ``fault`` point; return its exit code."""
    cmd = [sys.executable, "-m", "flannel_cli.main", *args, "--port", str(free_port())]
    env = {**__import__("os").environ, "FLANNEL_RELAY_FAULT": fault}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=60)
    return proc.returncode


async def test_crash_between_commit_and_publish_loses_nothing_and_duplicates_nothing(
    shop: tuple[Store, Team],
    mysql_shard_urls: list[str],
    redis_url: str,
    redis_prefix: str,
    start_server: type[ServerProcess],
) -> None:
    store, team = shop
    args = origin_args(mysql_shard_urls, redis_url, redis_prefix)
    server = start_server(args, free_port()).start()
    start = await current_offset(store, team.id)
    server.stop()

    log = RedisLog(redis_url, redis_prefix)
    reader = LogReader(log)
    sub = await reader.subscribe(team.id, after=start)
    try:
        await messages.post(store, team.alice.caller, team.general, "first")
        # Appended to the log, then killed before marking the row published.
        assert await asyncio.to_thread(run_faulty, args, "after_append") == 75
        await messages.post(store, team.alice.caller, team.general, "second")
        # Committed, then killed before appending it.
        assert await asyncio.to_thread(run_faulty, args, "before_append") == 75
        start_server(args, free_port()).start()
        await messages.post(store, team.bob.caller, team.general, "third")
        events = await collect(sub, 3)
        assert [e["text"] for e in events] == ["first", "second", "third"]
        assert [e["offset"] for e in events] == [start + 1, start + 2, start + 3]
        await asyncio.sleep(1.0)  # anything duplicated would arrive now
        assert await log.read(team.id, start + 3) == []
    finally:
        await sub.close()
        await reader.close()
        await log.close()


async def test_redis_restart_while_following_loses_nothing(
    shop: tuple[Store, Team],
    mysql_shard_urls: list[str],
    spare_redis: SpareRedis,
    start_server: type[ServerProcess],
) -> None:
    store, team = shop
    prefix = "flanneltest:restart:"
    start_server(origin_args(mysql_shard_urls, spare_redis.url, prefix), free_port()).start()
    start = await current_offset(store, team.id)
    log = RedisLog(spare_redis.url, prefix)
    reader = LogReader(log)
    sub = await reader.subscribe(team.id, after=start)
    try:
        for i in range(5):
            await messages.post(store, team.alice.caller, team.general, f"before {i}")
        before = await collect(sub, 3)
        spare_redis.kill()
        for i in range(5):
            await messages.post(store, team.alice.caller, team.general, f"during {i}")
        spare_redis.start()
        for i in range(5):
            await messages.post(store, team.bob.caller, team.general, f"after {i}")
        rest = await collect(sub, 12, wait_s=40)
        texts = [e["text"] for e in before + rest]
        assert texts == [f"before {i}" for i in range(5)] + [f"during {i}" for i in range(5)] + [
            f"after {i}" for i in range(5)
        ]
        offsets = [e["offset"] for e in before + rest]
        assert offsets == list(range(start + 1, start + 16))
    finally:
        await sub.close()
        await reader.close()
        await log.close()


async def test_reader_below_retention_floor_is_told_to_resync(
    shop: tuple[Store, Team],
    mysql_shard_urls: list[str],
    redis_url: str,
    redis_prefix: str,
    start_server: type[ServerProcess],
) -> None:
    store, team = shop
    args = origin_args(mysql_shard_urls, redis_url, redis_prefix, "--log-max-events", "5")
    start_server(args, free_port()).start()
    start = await current_offset(store, team.id)
    for i in range(20):
        await messages.post(store, team.alice.caller, team.general, f"m{i}")
    log = RedisLog(redis_url, redis_prefix)
    try:
        for _ in range(100):
            if await log.last_offset(team.id) == start + 20:
                break
            await asyncio.sleep(0.1)
        await log.trim()
        with pytest.raises(TooOld):
            await log.read(team.id, after=start)
        reader = LogReader(log)
        sub = await reader.subscribe(team.id, after=start)
        with pytest.raises(TooOld):
            await collect(sub, 1, wait_s=10)
        await sub.close()
        await reader.close()
        assert await log.read(team.id, after=start + 19) != []
    finally:
        await log.close()
