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

A reconnect storm redeems hundreds of tickets at once, and one script call (a pooled
connection, a round trip, a reply parsed) per ticket was a third of the edge's CPU per
connection. So the claims made in one loop turn go to Redis in one call of the script (up to
:data:`MAX_CLAIMS`, at most two calls out at once, through :class:`wire.batching.BatchCalls`);
each nonce is still its own ``SET NX``, in order, so the same nonce twice in one call is
claimed once: the second is refused as used. Claims are never merged by nonce (that would hand
one success to two redeemers).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wire.batching import BatchCalls
from wire.keys import nonce_epoch_key, nonce_prefix
from wire.tickets import TicketError

log = logging.getLogger("flannel.edge")

#: KEYS: epoch, then one key per nonce. ARGV: now, then issued_at and expiry (Unix s) per nonce.
#: One answer per nonce, in order: 1 claimed, 0 used, -1 issued before the epoch (too old).
_CLAIM = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
epoch = tonumber(epoch)
local out = {}
for i = 2, #KEYS do
  if tonumber(ARGV[2 * i - 2]) < epoch then
    out[i - 1] = -1
  elseif redis.call('SET', KEYS[i], '1', 'NX', 'EXAT', ARGV[2 * i - 1]) then
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
"""
#: Claims one script call carries at most (each a key and two arguments).
MAX_CLAIMS = 256


class Claim(NamedTuple):
    """One redeemer's claim; ``seq`` makes each distinct, so that claims are never merged."""

    seq: int
    nonce: str
    expires_at: float
    issued_at: float


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
        self._seq = itertools.count()
        self._batches: BatchCalls[Claim, int] = BatchCalls(self._claim_many, MAX_CLAIMS, 2)

    @property
    def calls(self) -> int:
        """Script calls made for claims (each carrying the claims of one loop turn)."""
        return self._batches.calls

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
        claimed = await self._batches.get(Claim(next(self._seq), nonce, expires_at, issued_at))
        if claimed < 0:
            raise TicketError("ticket_expired", "issued before Redis lost its data; connect again")
        return claimed == 1

    async def _claim_many(self, claims: list[Claim]) -> list[int]:
        try:
            return await self._run(claims)
        except _RETRIED:
            # Redis restarted: the idle pooled connections are dead too. Drop them, try again.
            await self._pool.disconnect(inuse_connections=False)
            return await self._run(claims)

    async def _run(self, claims: list[Claim]) -> list[int]:
        keys = [self._epoch_key, *(self._prefix + c.nonce for c in claims)]
        args: list[str | int] = [repr(self._clock())]
        for c in claims:
            args += [repr(float(c.issued_at)), math.ceil(c.expires_at) + 1]
        return [int(x) for x in await self._script(keys=keys, args=args)]

    async def close(self) -> None:
        await self._client.aclose()
