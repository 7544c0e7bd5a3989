"""``build_edge``: the edge's I/O chosen from its settings, shared parts left to their owners."""

from __future__ import annotations

import time

import orjson
import redis.asyncio as redis

from changelog import MemoryLog, RedisLog
from flannel.nonces import RedisNonceStore
from flannel.registry import MemoryRegistryStore, RedisRegistryStore
from flannel_cli.edge import build_edge
from tests.flannel.harness import Lifespan, settings
from wire.keys import edge_key, nonce_epoch_key
from wire.tickets import MemoryNonceStore


async def test_without_redis_everything_is_in_process() -> None:
    built = build_edge(settings(origin_url="http://127.0.0.1:9"))
    edge = built.edge
    assert isinstance(edge.changelog, MemoryLog) and isinstance(edge.nonces, MemoryNonceStore)
    assert edge.regional.cache is None and isinstance(built.registration.store, MemoryRegistryStore)
    async with Lifespan(built.app):
        assert [r["id"] for r in built.registration.store.records()] == ["edge-test"]
    assert built.registration.store.records() == [] and edge.draining


async def test_with_redis_the_parts_are_shared_and_a_given_log_is_left_open(
    redis_url: str, redis_prefix: str
) -> None:
    shared = MemoryLog()
    built = build_edge(
        settings(redis_url=redis_url, redis_prefix=redis_prefix, region="eu"), changelog=shared
    )
    edge = built.edge
    assert edge.changelog is shared and isinstance(edge.nonces, RedisNonceStore)
    assert edge.regional.cache is not None and edge.regional.cache.namespace == f"{redis_prefix}snap:eu:"
    assert isinstance(built.registration.store, RedisRegistryStore)
    client = redis.Redis.from_url(redis_url)
    try:
        async with Lifespan(built.app):
            record = orjson.loads(await client.get(edge_key(redis_prefix, "edge-test")))
            assert record["region"] == "eu"
            now = time.time()
            assert await edge.nonces.claim("n1", 2e9, now) and not await edge.nonces.claim("n1", 2e9, now)
            epoch = await client.get(nonce_epoch_key(redis_prefix, "edge-test"))
            assert epoch is not None and float(epoch) <= now  # recorded as the edge started
        assert await client.get(edge_key(redis_prefix, "edge-test")) is None  # deregistered
        await shared.append("T1", [(1, b"{}")])  # still open: its owner closes it
    finally:
        await client.aclose()
        await shared.close()


async def test_without_a_given_log_redis_mode_follows_redis(redis_url: str, redis_prefix: str) -> None:
    # port 9 (discard): no origin there, whatever else this machine runs on the default :8000
    built = build_edge(
        settings(redis_url=redis_url, redis_prefix=redis_prefix, origin_url="http://127.0.0.1:9")
    )
    assert isinstance(built.edge.changelog, RedisLog)
    async with Lifespan(built.app) as served, served.http() as http:
        assert (await http.get("/readyz")).json()["error"] == "not_ready"  # the origin is unreachable
