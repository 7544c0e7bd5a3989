"""Redis-backed ticket nonces: a ticket stays single-use across edge restarts and processes.

``SET key 1 NX EXAT expiry`` claims a nonce atomically; the key expires with the ticket, so
the store never grows past the tickets still valid.
"""

from __future__ import annotations

import math

import redis.asyncio as redis


class RedisNonceStore:
    def __init__(self, redis_url: str, prefix: str, edge_id: str, max_connections: int = 64) -> None:
        # A blocking pool: a reconnect storm waits for a connection instead of failing.
        pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=max_connections, timeout=30)
        self._client = redis.Redis(connection_pool=pool)
        self._prefix = f"{prefix}nonce:{edge_id}:"

    async def claim(self, nonce: str, expires_at: float) -> bool:
        claimed = await self._client.set(self._prefix + nonce, b"1", nx=True, exat=math.ceil(expires_at) + 1)
        return bool(claimed)

    async def close(self) -> None:
        await self._client.aclose()
