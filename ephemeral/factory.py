"""The ephemeral parts of one process, chosen once: Redis when a URL is given, else in-process."""

from __future__ import annotations

from ephemeral.memory import MemoryBus, MemoryOnline
from ephemeral.ports import Bus, OnlineStore
from ephemeral.redis_bus import RedisBus, RedisOnline


class Ephemeral:
    """The bus and the online store of a process. Each subscriber (an edge) takes its own
    :meth:`bus` handle; on Redis each is its own pub/sub connection, in memory each is a view
    of one shared bus (so the edges of one process hear each other)."""

    def __init__(self, redis_url: str | None = None, prefix: str = "flannel:") -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self._memory = MemoryBus() if not redis_url else None
        self.online: OnlineStore = RedisOnline(redis_url, prefix) if redis_url else MemoryOnline()
        self._buses: list[Bus] = []

    def bus(self) -> Bus:
        made: Bus = RedisBus(self.redis_url, self.prefix) if self.redis_url else self._shared().view()
        self._buses.append(made)
        return made

    def _shared(self) -> MemoryBus:
        assert self._memory is not None
        return self._memory

    async def close(self) -> None:
        for made in self._buses:
            await made.close()
        await self.online.close()
