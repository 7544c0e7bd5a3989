"""Redis-backed ticket nonces: a ticket stays single-use across edge restarts and processes,
and across Redis losing its data.

``SET key 1 NX EXAT expiry`` claims a nonce atomically; the key expires with the ticket, so
the store never grows past the tickets still valid.

Single use rests on those keys, and a Redis restart (or ``FLUSHALL``) forgets them: every
ticket still under its lifetime could be used again. So the store also keeps an *epoch*
(:func:`wire.keys.nonce_epoch_key`): the time since when its nonces are complete. The edge
writes it when it starts, ``NX`` (a restarted edge keeps the earlier epoch, so tickets signed
while it restarted stay good; and tickets signed ahead of time, as the benchmark's reconnect
storm does, are fine once the edge is up). A claim that finds the epoch missing knows Redis
lost its memory: it sets the epoch to now and, like every later claim, refuses tickets issued
before it as ``ticket_expired`` (the client asks the router for a fresh one). The check and
the claim are one Lua script, so no claim slips between them.

A pooled connection may be dead after a Redis restart: a claim that fails on the connection
is tried once more on a fresh one; if that fails too, the error reaches the edge, which
refuses the connection as unavailable (never a 500).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wire.keys import nonce_epoch_key, nonce_prefix
from wire.tickets import TicketError

log = logging.getLogger("flannel.edge")

#: KEYS: epoch, nonce. ARGV: now, issued_at, expiry (Unix s). 1 claimed, 0 used, -1 too old.
_CLAIM = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
if tonumber(ARGV[2]) < tonumber(epoch) then
  return -1
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EXAT', ARGV[3]) then
  return 1
end
return 0
"""
_RETRIED = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisNonceStore:
    """:class:`wire.tickets.NonceStore` over Redis, shared by every process of one edge id."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        edge_id: str,
        max_connections: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A blocking pool: a reconnect storm waits for a connection instead of failing. The
        # socket timeouts bound a handshake when Redis is unreachable rather than refusing.
        self._pool = redis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=max_connections,
            timeout=30,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
        )
        self._client = redis.Redis(connection_pool=self._pool)
        self._script = self._client.register_script(_CLAIM)
        self._prefix = nonce_prefix(prefix, edge_id)
        self._epoch_key = nonce_epoch_key(prefix, edge_id)
        self._clock = clock

    async def start(self) -> None:
        """Record the epoch if there is none (the edge is starting). Best effort: without
        Redis now, the first claim sets it."""
        try:
            await self._client.set(self._epoch_key, repr(self._clock()), nx=True)
        except _RETRIED as exc:
            log.warning("could not record the ticket nonce epoch: %s", exc)

    async def epoch(self) -> float | None:
        raw = await self._client.get(self._epoch_key)
        return None if raw is None else float(raw)

    async def claim(self, nonce: str, expires_at: float, issued_at: float) -> bool:
        try:
            return await self._claim(nonce, expires_at, issued_at)
        except _RETRIED:
            # Redis restarted: the idle pooled connections are dead too. Drop them, try again.
            await self._pool.disconnect(inuse_connections=False)
            return await self._claim(nonce, expires_at, issued_at)

    async def _claim(self, nonce: str, expires_at: float, issued_at: float) -> bool:
        keys = [self._epoch_key, self._prefix + nonce]
        args: list[str | int] = [repr(self._clock()), repr(float(issued_at)), math.ceil(expires_at) + 1]
        claimed = int(await self._script(keys=keys, args=args))
        if claimed < 0:
            raise TicketError("ticket_expired", "issued before Redis lost its data; connect again")
        return claimed == 1

    async def close(self) -> None:
        await self._client.aclose()
