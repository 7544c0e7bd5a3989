"""The edge registry, router side: which edges are alive, and where each workspace is warm.

Edges heartbeat their records; routers read them. The Redis key layout both sides use is the
wire contract's (:mod:`wire.keys`: ``P edge:{id}`` with a TTL of three heartbeats, the
``P edges`` index, ``P warm:{team}``). Routers write the warm sets: every router instance sees
what the others assigned, so a workspace stays warm on its edges whichever router a client
reaches.

An assignment counts as warm while it is younger than ``warm_ttl_s`` and younger than the
edge's process (a restarted edge starts cold, whatever was assigned to it before).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from router.settings import RouterSettings
from wire.keys import DEFAULT_PREFIX, edge_key, index_key, warm_key

log = logging.getLogger("flannel.router.registry")


class RegistryUnavailable(Exception):
    """The registry could not be read and no recent enough copy of it is at hand."""


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    """One edge as its last heartbeat described it."""

    id: str
    region: str
    ws_url: str
    http_url: str
    connections: int
    capacity: int
    draining: bool
    started: float
    updated: float
    heartbeat_s: float = 0.0  # the edge's heartbeat interval (0: not said)

    @classmethod
    def parse(cls, data: Any) -> EdgeRecord | None:
        """A record from its JSON object; None (logged) when it is not one, so that one bad
        writer cannot stop the router from placing on the others."""
        try:
            record = cls(
                id=str(data["id"]),
                region=str(data["region"]),
                ws_url=str(data["ws_url"]),
                http_url=str(data["http_url"]).rstrip("/"),
                connections=max(0, int(data.get("connections", 0))),
                capacity=max(0, int(data["capacity"])),
                draining=bool(data.get("draining", False)),
                started=float(data.get("started", 0.0)),
                updated=float(data.get("updated", 0.0)),
                heartbeat_s=max(0.0, float(data.get("heartbeat_s", 0.0))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring a malformed edge record %r: %s", data, exc)
            return None
        return record if record.id and record.region else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: bytes) -> EdgeRecord | None:
    try:
        return EdgeRecord.parse(orjson.loads(raw))
    except orjson.JSONDecodeError:
        log.warning("ignoring an edge record that is not JSON: %r", raw[:200])
        return None


def warm_edges(assignments: Mapping[str, float], edges: Mapping[str, EdgeRecord]) -> set[str]:
    """The live edges whose assignment (Unix seconds) is younger than the edge's process."""
    return {eid for eid, at in assignments.items() if eid in edges and at >= edges[eid].started}


class Registry(Protocol):
    async def edges(self) -> list[EdgeRecord]: ...

    async def warm(self, team_id: str) -> dict[str, float]:
        """Edge id -> Unix seconds of the last connect of ``team_id`` sent there."""
        ...

    async def mark_warm(self, team_id: str, edge_id: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryRegistry:
    """Both sides in one process (``flannel up`` without Redis): edges write their records
    with :meth:`heartbeat` and :meth:`remove` (the edge's registry store protocol), routers
    read."""

    def __init__(self, warm_ttl_s: float = 900.0, clock: Callable[[], float] = time.time) -> None:
        self.warm_ttl_s = warm_ttl_s
        self._clock = clock
        self._records: dict[str, tuple[dict[str, Any], float]] = {}
        self._warm: dict[str, dict[str, float]] = {}

    async def heartbeat(self, record: dict[str, Any], ttl_s: float) -> None:
        self._records[str(record["id"])] = (dict(record), self._clock() + ttl_s)

    async def remove(self, edge_id: str) -> None:
        self._records.pop(edge_id, None)

    async def edges(self) -> list[EdgeRecord]:
        now = self._clock()
        for eid in [eid for eid, (_, expires) in self._records.items() if expires <= now]:
            del self._records[eid]
        parsed = (EdgeRecord.parse(r) for r, _ in self._records.values())
        return [r for r in parsed if r is not None]

    async def warm(self, team_id: str) -> dict[str, float]:
        floor = self._clock() - self.warm_ttl_s
        return {eid: at for eid, at in self._warm.get(team_id, {}).items() if at > floor}

    async def mark_warm(self, team_id: str, edge_id: str) -> None:
        now = self._clock()
        kept = {e: at for e, at in self._warm.get(team_id, {}).items() if at > now - self.warm_ttl_s}
        kept[edge_id] = now
        self._warm[team_id] = kept

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisRegistry:
    """The shared registry in Redis.

    The edge list and each workspace's warm set are read at most every ``refresh_s`` (a connect
    storm costs Redis a few reads a second, not one per connect; this router's own marks are
    seen at once); if Redis fails, the last list is used for up to ``stale_s``.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str = DEFAULT_PREFIX,
        warm_ttl_s: float = 900.0,
        refresh_s: float = 0.25,
        stale_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self.warm_ttl_s = warm_ttl_s
        self.refresh_s = refresh_s
        self.stale_s = stale_s
        self._clock = clock
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._edges: list[EdgeRecord] = []
        self._read_at = float("-inf")  # monotonic
        self._lock = asyncio.Lock()
        self.max_teams = 100_000
        self._warm: dict[str, tuple[float, dict[str, float]]] = {}  # team -> (monotonic, set)
        self._warm_reads: dict[str, asyncio.Future[dict[str, float]]] = {}
        self._marking: set[tuple[str, str]] = set()

    async def edges(self) -> list[EdgeRecord]:
        if time.monotonic() - self._read_at < self.refresh_s:
            return self._edges
        async with self._lock:  # one refresh for all who found the list old
            if time.monotonic() - self._read_at < self.refresh_s:
                return self._edges
            try:
                self._edges = await self._read_edges()
                self._read_at = time.monotonic()
            except Exception as exc:
                if time.monotonic() - self._read_at > self.stale_s:
                    raise RegistryUnavailable(str(exc)) from exc
                log.warning("edge registry unreadable, using the last list: %s", exc)
            return self._edges

    async def _read_edges(self) -> list[EdgeRecord]:
        members: list[Any] = await self._redis.zrange(index_key(self.prefix), 0, -1)
        ids = [_text(m) for m in members]
        if not ids:
            return []
        raw: list[Any] = await self._redis.mget([edge_key(self.prefix, i) for i in ids])
        records = (_decode(r) for r in raw if r is not None)
        return [r for r in records if r is not None]

    async def warm(self, team_id: str) -> dict[str, float]:
        """The team's warm set, read at most every ``refresh_s`` (concurrent readers share one
        read): a storm of one workspace's connects costs Redis a few reads, not one each."""
        cached = self._warm.get(team_id)
        if cached is not None and time.monotonic() - cached[0] < self.refresh_s:
            floor = self._clock() - self.warm_ttl_s
            return {eid: at for eid, at in cached[1].items() if at > floor}
        task = self._warm_reads.get(team_id)
        if task is None:
            task = asyncio.ensure_future(self._read_warm(team_id))
            self._warm_reads[team_id] = task
            task.add_done_callback(lambda _: self._warm_reads.pop(team_id, None))
        return await asyncio.shield(task)

    def _keep_warm(self, team_id: str, assignments: dict[str, float]) -> None:
        self._warm.pop(team_id, None)
        self._warm[team_id] = (time.monotonic(), assignments)
        while len(self._warm) > self.max_teams:
            del self._warm[next(iter(self._warm))]

    async def _read_warm(self, team_id: str) -> dict[str, float]:
        floor_ms = int((self._clock() - self.warm_ttl_s) * 1000)
        try:
            rows: list[Any] = await self._redis.zrangebyscore(
                warm_key(self.prefix, team_id), f"({floor_ms}", "+inf", withscores=True
            )
        except Exception as exc:  # placement still works, only colder
            log.warning("warm set of %s unreadable: %s", team_id, exc)
            return {}
        assignments = {_text(member): float(score) / 1000 for member, score in rows}
        self._keep_warm(team_id, assignments)
        return assignments

    async def mark_warm(self, team_id: str, edge_id: str) -> None:
        """Record a connect of ``team_id`` sent to ``edge_id``; one write at a time for a pair
        (the connects placed meanwhile are covered by it), seen by this router at once."""
        if (team_id, edge_id) in self._marking:
            return
        self._marking.add((team_id, edge_id))
        try:
            await self._mark_warm(team_id, edge_id)
        finally:
            self._marking.discard((team_id, edge_id))

    async def _mark_warm(self, team_id: str, edge_id: str) -> None:
        now = self._clock()
        cached = self._warm.get(team_id)
        self._keep_warm(team_id, {**(cached[1] if cached else {}), edge_id: now})
        key = warm_key(self.prefix, team_id)
        ttl_ms = int(self.warm_ttl_s * 1000)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {edge_id: int(now * 1000)})
                pipe.zremrangebyscore(key, "-inf", int(now * 1000) - ttl_ms)
                pipe.pexpire(key, ttl_ms)
                await pipe.execute()
        except Exception as exc:
            log.warning("could not mark %s warm on %s: %s", team_id, edge_id, exc)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def open_registry(settings: RouterSettings) -> Registry:
    """The registry ``settings`` name: Redis when a URL is given, else in-process."""
    if settings.redis_url:
        return RedisRegistry(
            settings.redis_url, settings.redis_prefix, settings.warm_ttl_s, settings.edges_refresh_s
        )
    return MemoryRegistry(settings.warm_ttl_s)
