"""The edge registry, edge side: this edge announces itself to the routers by heartbeat.

Routers pick edges from what is registered, so an edge that stops heartbeating (crashed,
partitioned) must vanish by itself: each heartbeat rewrites the record with a TTL of three
intervals, and a stopping edge deletes its record at once so that no new session is sent to it
while it drains.

The key layout (``P edge:{edge_id}``, the ``P edges`` index) is the wire contract's
(:mod:`wire.keys`), read by the routers. Without Redis the record goes to an in-process
:class:`RegistryStore` shared with a router in the same process (``flannel up``); the
composition root (``flannel_cli.edge.build_edge``) picks the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from flannel.settings import EdgeSettings
from wire.keys import DEFAULT_PREFIX, TTL_HEARTBEATS, edge_key, index_key

log = logging.getLogger("flannel.registry")

DRAIN_WATCH_S = 0.05
Record = dict[str, Any]


class RegistryStore(Protocol):
    """Where an edge's record lives: Redis, or a dict shared with an in-process router."""

    async def heartbeat(self, record: Record, ttl_s: float) -> None: ...

    async def remove(self, edge_id: str) -> None: ...

    async def close(self) -> None: ...


class RedisRegistryStore:
    """The record as a key with a TTL plus an entry in the index (one round trip)."""

    def __init__(self, redis_url: str, prefix: str = DEFAULT_PREFIX) -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5)

    async def heartbeat(self, record: Record, ttl_s: float) -> None:
        now_ms = int(time.time() * 1000)
        ttl_ms = max(1, int(ttl_s * 1000))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(edge_key(self.prefix, record["id"]), orjson.dumps(record), px=ttl_ms)
            pipe.zadd(index_key(self.prefix), {record["id"]: now_ms})
            # Index members silent for an hour are long expired: keep the index small.
            pipe.zremrangebyscore(index_key(self.prefix), "-inf", now_ms - 3_600_000)
            await pipe.execute()

    async def remove(self, edge_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(edge_key(self.prefix, edge_id))
            pipe.zrem(index_key(self.prefix), edge_id)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


class MemoryRegistryStore:
    """In-process records with expiry, for an edge with no Redis and nobody to share with."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, tuple[Record, float]] = {}

    async def heartbeat(self, record: Record, ttl_s: float) -> None:
        self._records[record["id"]] = (dict(record), self._clock() + ttl_s)

    async def remove(self, edge_id: str) -> None:
        self._records.pop(edge_id, None)

    async def close(self) -> None:
        return None

    def records(self) -> list[Record]:
        now = self._clock()
        return [dict(r) for r, expires in self._records.values() if expires > now]


class EdgeRegistration:
    """Heartbeats this edge's record every ``settings.heartbeat_s`` until :meth:`stop`.

    The ``store`` is given (and closed by whoever built it).

    ``connections`` and ``draining`` are read at every beat, so the record follows the edge;
    the switch to draining is published at once.
    A failed beat is logged and retried at the next interval: the registry being down must not
    take the edge down (routers then keep the last record until its TTL runs out).
    """

    def __init__(
        self,
        settings: EdgeSettings,
        connections: Callable[[], int],
        draining: Callable[[], bool],
        store: RegistryStore,
    ) -> None:
        self.settings = settings
        self._connections = connections
        self._draining = draining
        self.store = store
        self.started = time.time()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def ttl_s(self) -> float:
        return TTL_HEARTBEATS * self.settings.heartbeat_s

    def record(self) -> Record:
        s = self.settings
        return {
            "id": s.edge_id,
            "region": s.region,
            "ws_url": s.ws_url,
            "http_url": s.http_url,
            "connections": self._connections(),
            "capacity": s.capacity,
            "draining": self._draining(),
            "started": self.started,
            "updated": time.time(),
            "heartbeat_s": s.heartbeat_s,
        }

    async def beat(self) -> bool:
        """Publish the record now; False (logged) if the store could not be reached."""
        try:
            await self.store.heartbeat(self.record(), self.ttl_s)
        except Exception as exc:
            log.warning("edge %s: heartbeat failed: %s", self.settings.edge_id, exc)
            return False
        return True

    async def start(self) -> None:
        """Register before serving (so routers may send clients as soon as we are up), then beat."""
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self.settings.edge_id}")

    async def _loop(self) -> None:
        """Beat every interval, and at once when the edge starts draining (routers must stop
        sending sessions before the goodbyes send its clients back through them)."""
        interval = self.settings.heartbeat_s
        published = self._draining()
        last = time.monotonic()
        while True:
            await asyncio.sleep(min(DRAIN_WATCH_S, interval))
            draining = self._draining()
            if draining != published or time.monotonic() - last >= interval:
                last = time.monotonic()
                if await self.beat():
                    published = draining

    async def stop(self) -> None:
        """Stop beating and delete the record: routers send no new session here from now on.
        Idempotent, so a drain hook may call it before the lifespan does."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.store.remove(self.settings.edge_id)
        except Exception as exc:  # the TTL removes it anyway
            log.warning("edge %s: deregistering failed: %s", self.settings.edge_id, exc)
