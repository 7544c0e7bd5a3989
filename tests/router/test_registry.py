"""The edge registry, router side, over the key layout of ``wire.keys``: on Redis and
in-process, what the edge's writer (``flannel.registry``) publishes is read back; records
expire, drains and stops show at once, malformed or expired records are skipped, warm sets are
shared between routers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest
import redis.asyncio as aioredis

from flannel import registry as edge_side
from flannel.settings import EdgeSettings
from router.registry import (
    EdgeRecord,
    MemoryRegistry,
    RedisRegistry,
    Registry,
    RegistryUnavailable,
    warm_edges,
)
from wire.keys import edge_key, index_key, warm_key

BEAT = 0.2


def settings(
    edge_id: str = "edge-a", region: str = "us", redis_url: str | None = None, prefix: str = "flannel:"
) -> EdgeSettings:
    return EdgeSettings(
        edge_id=edge_id,
        region=region,
        port=8123,
        redis_url=redis_url,
        redis_prefix=prefix,
        capacity=500,
        heartbeat_s=BEAT,
    )


class Live:
    def __init__(self) -> None:
        self.connections = 0
        self.draining = False


@pytest.fixture(params=["redis", "memory"])
async def sides(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[EdgeSettings, Registry, edge_side.RegistryStore]]:
    """(edge settings, the router's reader, the store the edge writes its record to)."""
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        prefix: str = request.getfixturevalue("redis_prefix")
        reader = RedisRegistry(url, prefix, warm_ttl_s=60, refresh_s=0)
        writer = edge_side.RedisRegistryStore(url, prefix)
        try:
            yield settings(redis_url=url, prefix=prefix), reader, writer
        finally:
            await writer.close()
            await reader.close()
    else:
        memory = MemoryRegistry(warm_ttl_s=60)
        yield settings(), memory, memory


async def publish(
    client: aioredis.Redis, prefix: str, record: dict[str, object], ttl_ms: int = 60_000
) -> None:
    """Write one edge record as ``wire.keys`` lays it out (what any edge writer must do)."""
    await client.set(edge_key(prefix, str(record["id"])), orjson.dumps(record), px=ttl_ms)
    await client.zadd(index_key(prefix), {str(record["id"]): int(time.time() * 1000)})


def record(edge_id: str, **extra: object) -> dict[str, object]:
    return {
        "id": edge_id,
        "region": "us",
        "ws_url": f"ws://{edge_id}/rtm",
        "http_url": f"http://{edge_id}/",
        "capacity": 3,
        **extra,
    }


async def only(reader: Registry) -> EdgeRecord:
    edges = await reader.edges()
    assert len(edges) == 1, edges
    return edges[0]


async def test_heartbeat_publishes_the_record_and_follows_the_edge(
    sides: tuple[EdgeSettings, Registry, edge_side.RegistryStore],
) -> None:
    s, reader, store = sides
    live = Live()
    reg = edge_side.EdgeRegistration(s, lambda: live.connections, lambda: live.draining, store)
    await reg.start()
    try:
        record = await only(reader)
        assert (record.id, record.region, record.capacity, record.connections, record.draining) == (
            "edge-a",
            "us",
            500,
            0,
            False,
        )
        assert record.ws_url == "ws://127.0.0.1:8123/rtm" and record.http_url == "http://127.0.0.1:8123"
        assert record.started == pytest.approx(reg.started) and record.updated >= reg.started
        live.connections = 7
        await asyncio.sleep(BEAT * 1.6)
        assert (await only(reader)).connections == 7
        live.draining = True
        await asyncio.sleep(0.12)  # published at once, not at the next beat
        assert (await only(reader)).draining is True
    finally:
        await reg.stop()
    assert await reader.edges() == []  # a stopped edge is gone at once


async def test_an_edge_that_stops_beating_disappears_within_three_intervals(
    sides: tuple[EdgeSettings, Registry, edge_side.RegistryStore],
) -> None:
    s, reader, store = sides
    reg = edge_side.EdgeRegistration(s, lambda: 0, lambda: False, store)
    await reg.start()
    await asyncio.sleep(BEAT * 2.5)
    assert [e.id for e in await reader.edges()] == ["edge-a"]
    assert reg._task is not None
    reg._task.cancel()  # hung or partitioned: no more beats, and no goodbye
    died = time.monotonic()
    while await reader.edges():
        assert time.monotonic() - died < 3 * BEAT + 0.2
        await asyncio.sleep(0.02)
    await reg.stop()


async def test_warm_sets_are_shared_and_expire(
    sides: tuple[EdgeSettings, Registry, edge_side.RegistryStore],
) -> None:
    _, reader, _ = sides
    await reader.mark_warm("T1", "edge-a")
    await reader.mark_warm("T1", "edge-b")
    await reader.mark_warm("T2", "edge-b")
    warm = await reader.warm("T1")
    assert set(warm) == {"edge-a", "edge-b"} and all(abs(t - time.time()) < 5 for t in warm.values())
    assert set(await reader.warm("T2")) == {"edge-b"} and await reader.warm("T3") == {}


async def test_warm_is_shared_between_router_instances(redis_url: str, redis_prefix: str) -> None:
    clock = [1000.0]
    one = RedisRegistry(redis_url, redis_prefix, warm_ttl_s=60, clock=lambda: clock[0])
    two = RedisRegistry(redis_url, redis_prefix, warm_ttl_s=60, clock=lambda: clock[0])
    await one.mark_warm("T1", "edge-a")
    assert await two.warm("T1") == {"edge-a": 1000.0}
    clock[0] = 1061.0
    assert await two.warm("T1") == {}  # older than the warm TTL
    await two.mark_warm("T1", "edge-b")
    client = aioredis.Redis.from_url(redis_url)
    assert await client.zrange(warm_key(redis_prefix, "T1"), 0, -1) == [b"edge-b"]
    assert 0 < await client.pttl(warm_key(redis_prefix, "T1")) <= 60_000
    await client.aclose()
    await one.close()
    await two.close()


def test_a_restarted_edge_is_cold() -> None:
    record = EdgeRecord("edge-a", "us", "ws://a/rtm", "http://a", 0, 10, False, started=100.0, updated=101.0)
    edges = {"edge-a": record}
    assert warm_edges({"edge-a": 150.0}, edges) == {"edge-a"}
    assert warm_edges({"edge-a": 50.0}, edges) == set()  # assigned before this process started
    assert warm_edges({"edge-gone": 150.0}, edges) == set()


async def test_malformed_and_expired_records_are_skipped(redis_url: str, redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.zadd(index_key(redis_prefix), {"bad": 1, "worse": 1, "gone": 1})
    await client.set(edge_key(redis_prefix, "bad"), b"{not json")
    await client.set(edge_key(redis_prefix, "worse"), b'{"id": "worse"}')
    await publish(client, redis_prefix, record("good"))  # "gone": indexed, its record expired
    reader = RedisRegistry(redis_url, redis_prefix, refresh_s=0)
    [good] = await reader.edges()
    assert (good.id, good.http_url, good.connections, good.draining) == ("good", "http://good", 0, False)
    await client.aclose()
    await reader.close()


async def test_an_unreachable_registry_serves_the_last_list_for_a_while(
    redis_url: str, redis_prefix: str
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await publish(client, redis_prefix, record("edge-a"))
    await client.aclose()
    reader = RedisRegistry(redis_url, redis_prefix, refresh_s=0, stale_s=0.3)
    assert len(await reader.edges()) == 1
    await reader._redis.aclose()
    reader._redis = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    assert len(await reader.edges()) == 1
    assert await reader.ping() is False
    await asyncio.sleep(0.35)
    with pytest.raises(RegistryUnavailable):
        await reader.edges()
    await reader.close()


async def test_a_warm_set_is_read_at_most_every_refresh_and_own_marks_show_at_once(
    redis_url: str, redis_prefix: str
) -> None:
    """A storm of one workspace's connects must not cost Redis a read each: the warm set is
    kept for ``refresh_s`` (another router's mark shows after it), concurrent readers share
    one read, and this router's own mark is seen at once."""
    mine = RedisRegistry(redis_url, redis_prefix, warm_ttl_s=60, refresh_s=0.3)
    other = RedisRegistry(redis_url, redis_prefix, warm_ttl_s=60)
    try:
        assert await mine.warm("T9") == {}
        await other.mark_warm("T9", "edge-x")
        together = await asyncio.gather(*(mine.warm("T9") for _ in range(50)))
        assert all(w == {} for w in together)  # the read of a moment ago, shared
        await mine.mark_warm("T9", "edge-y")
        assert set(await mine.warm("T9")) == {"edge-y"}  # its own mark: at once
        await asyncio.sleep(0.35)
        assert set(await mine.warm("T9")) == {"edge-x", "edge-y"}  # read again: the other's too
    finally:
        await mine.close()
        await other.close()
