"""Redis-backed ticket nonces: a ticket stays single-use across edge restarts and processes.

``SET key 1 NX EXAT expiry`` claims a nonce atomically; the key expires with the ticket, so
the store never grows past the tickets still valid.

``issued_at`` is accepted and not used yet: refusing tickets issued before Redis lost its
memory needs an epoch written when the edge starts (not at the first claim, or tickets signed
ahead of time, as the benchmark's reconnect storm does, would all be refused).
"""

from __future__ import annotations

import math

import redis.asyncio as redis

from wire.keys import nonce_prefix


class RedisNonceStore:
    """:class:`wire.tickets.NonceStore` over Redis, shared by every process of one edge id."""

    def __init__(self, redis_url: str, prefix: str, edge_id: str, max_connections: int = 64) -> None:
        # A blocking pool: a reconnect storm waits for a connection instead of failing.
        pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=max_connections, timeout=30)
        self._client = redis.Redis(connection_pool=pool)
        self._prefix = nonce_prefix(prefix, edge_id)

    async def claim(self, nonce: str, expires_at: float, issued_at: float) -> bool:
        claimed = await self._client.set(self._prefix + nonce, b"1", nx=True, exat=math.ceil(expires_at) + 1)
        return bool(claimed)

    async def close(self) -> None:
        await self._client.aclose()
