"""The regional shared snapshot: a workspace snapshot kept in the region's Redis so that a
newly started edge warms without asking the origin.

An edge that loads a workspace from the origin stores the pages here (aiocache over Redis,
orjson-serialized, with a TTL); its neighbours load from here first. A stored snapshot may
be a little old: that is fine, because the edge tails the change log from the snapshot's
offset, and a snapshot older than the log's retention makes the log answer "too old",
which sends the edge to the origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiocache import Cache
from aiocache.serializers import BaseSerializer

Page = dict[str, Any]
PageSource = Callable[[str], AsyncIterator[Page]]


class OrjsonSerializer(BaseSerializer):  # type: ignore[misc]
    """Values as orjson bytes (aiocache's JSON serializer would use the slower json module)."""

    DEFAULT_ENCODING = None

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, value: bytes | None) -> Any:
        return None if value is None else orjson.loads(value)


def redis_cache(redis_url: str, namespace: str) -> Any:
    parts = urlsplit(redis_url)
    db = int(parts.path.lstrip("/") or 0)
    return Cache(
        Cache.REDIS,
        endpoint=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=db,
        password=parts.password,
        namespace=namespace,
        serializer=OrjsonSerializer(),
    )


class RegionalSnapshots:
    """Snapshot pages: from the regional cache when there, else from the origin (then shared)."""

    def __init__(self, cache: Any | None, origin: PageSource, ttl_s: int = 300) -> None:
        self.cache = cache
        self.origin = origin
        self.ttl_s = ttl_s
        self.regional_hits = 0
        self.origin_loads = 0

    async def pages(self, team_id: str) -> AsyncIterator[Page]:
        if self.cache is not None:
            stored = await self._get(team_id)
            if stored:
                self.regional_hits += 1
                for page in stored:
                    yield page
                return
        self.origin_loads += 1
        collected: list[Page] = []
        async for page in self.origin(team_id):
            collected.append(page)
            yield page
        if self.cache is not None and collected and collected[-1].get("type") == "end":
            await self._put(team_id, collected)

    async def _get(self, team_id: str) -> list[Page] | None:
        assert self.cache is not None
        try:
            value: list[Page] | None = await self.cache.get(team_id)
        except Exception:  # a cache that is down is a miss, never an outage
            return None
        return value

    async def _put(self, team_id: str, pages: list[Page]) -> None:
        assert self.cache is not None
        try:
            await self.cache.set(team_id, pages, ttl=self.ttl_s)
        except Exception:  # sharing is best-effort
            return

    async def close(self) -> None:
        if self.cache is not None:
            await self.cache.close()
