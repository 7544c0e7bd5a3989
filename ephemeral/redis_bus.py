"""The ephemeral bus and the online store on Redis.

Key layout (every name starts with the deployment's ``prefix``, ``flannel:`` by default):

- ``{prefix}`` + :func:`wire.bus.channel` (``flannel:eph:{team_id}``): the pub/sub channel of
  one workspace. An edge subscribes to the channels of the workspaces it holds, so it hears
  nothing of the others.
- ``{prefix}online:{team_id}:{edge}``: hash user -> ``"active,total,last_activity"``, that
  edge's connections of the workspace; ``PEXPIRE`` ttl, extended by every report and refresh.
  An edge killed with ``kill -9`` stops counting once it runs out.
- ``{prefix}online:{team_id}``: sorted set edge -> unix ms its report expires, so readers find
  the reports without ``SCAN`` (members past their time are skipped and pruned).

Pub/sub is at most once: a message published while a subscriber reconnects is lost, which the
presence protocol tolerates (edges re-report their counts every heartbeat, typing expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ephemeral.ports import Handler
from wire import bus
from wire.bus import BusError, Counts, Envelope

log = logging.getLogger("flannel.ephemeral")
_IDLE_S = 0.5


def online_key(prefix: str, team_id: str, edge: str) -> str:
    return f"{prefix}online:{team_id}:{edge}"


def online_index(prefix: str, team_id: str) -> str:
    return f"{prefix}online:{team_id}"


class RedisBus:
    """:class:`ephemeral.Bus` on Redis pub/sub, one channel per workspace."""

    def __init__(self, url: str, prefix: str = "flannel:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._prefix = prefix
        self._handlers: dict[str, Handler] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.published = 0
        self.received = 0
        self.dropped = 0

    def _channel(self, team_id: str) -> str:
        return self._prefix + bus.channel(team_id)

    async def start(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        try:
            await self._redis.publish(self._channel(envelope.team), bus.encode(envelope))
            self.published += 1
        except (RedisError, OSError) as exc:  # at most once: a lost envelope is no error
            self.dropped += 1
            log.warning("publishing an ephemeral envelope failed: %r", exc)

    async def subscribe(self, team_id: str, handler: Handler) -> None:
        fresh = team_id not in self._handlers
        self._handlers[team_id] = handler
        if fresh:
            async with self._lock:
                await self._pubsub.subscribe(self._channel(team_id))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="flannel-ephemeral-bus")

    async def unsubscribe(self, team_id: str) -> None:
        if self._handlers.pop(team_id, None) is not None:
            async with self._lock:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(self._channel(team_id))

    async def _read(self) -> None:
        while True:
            try:
                if not self._handlers:
                    await asyncio.sleep(_IDLE_S)
                    continue
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=_IDLE_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: the client reconnects and resubscribes
                log.warning("the ephemeral bus lost Redis: %r", exc)
                await asyncio.sleep(_IDLE_S)
                continue
            if message is None or message.get("type") != "message":
                continue
            self._deliver(message)

    def _deliver(self, message: Mapping[str, Any]) -> None:
        name = message.get("channel")
        name = name.decode() if isinstance(name, bytes) else str(name)
        team_id = bus.team_of(name[len(self._prefix) :]) if name.startswith(self._prefix) else None
        handler = self._handlers.get(team_id) if team_id else None
        if handler is None:
            return
        try:
            envelope = bus.decode(message["data"])
        except BusError as exc:
            log.warning("dropping a malformed ephemeral envelope: %s", exc)
            return
        if envelope.team != team_id:  # a workspace's channel carries only that workspace
            log.warning("dropping an envelope of %s on the channel of %s", envelope.team, team_id)
            return
        self.received += 1
        try:
            handler(envelope)
        except Exception:
            log.exception("an ephemeral handler failed")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()


def _counts(raw: bytes | str) -> Counts | None:
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        active, total, last = text.split(",")
        return Counts(int(active), int(total), float(last))
    except (ValueError, UnicodeDecodeError):
        return None


class RedisOnline:
    """:class:`ephemeral.OnlineStore` on Redis (see the module docstring for the keys)."""

    def __init__(self, url: str, prefix: str = "flannel:") -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix

    async def report(self, team_id: str, edge: str, users: Mapping[str, Counts | None], ttl_s: float) -> None:
        key = online_key(self._prefix, team_id, edge)
        gone = [u for u, c in users.items() if c is None]
        kept = {u: f"{c.active},{c.total},{c.last_activity:.3f}" for u, c in users.items() if c is not None}
        async with self._redis.pipeline(transaction=True) as pipe:
            if gone:
                pipe.hdel(key, *gone)
            if kept:
                pipe.hset(key, mapping=kept)  # type: ignore[arg-type]
            self._keep(pipe, team_id, edge, ttl_s)
            await pipe.execute()

    def _keep(self, pipe: Any, team_id: str, edge: str, ttl_s: float) -> None:
        now_ms = int(time.time() * 1000)
        ttl_ms = max(1, int(ttl_s * 1000))
        index = online_index(self._prefix, team_id)
        pipe.pexpire(online_key(self._prefix, team_id, edge), ttl_ms)
        pipe.zadd(index, {edge: now_ms + ttl_ms})
        pipe.zremrangebyscore(index, "-inf", now_ms)
        pipe.pexpire(index, ttl_ms * 4)

    async def refresh(self, team_id: str, edge: str, ttl_s: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._keep(pipe, team_id, edge, ttl_s)
            await pipe.execute()

    async def forget(self, team_id: str, edge: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(online_key(self._prefix, team_id, edge))
            pipe.zrem(online_index(self._prefix, team_id), edge)
            await pipe.execute()

    async def read(self, team_id: str, user_id: str | None = None) -> dict[str, dict[str, Counts]]:
        now_ms = int(time.time() * 1000)
        raw_edges = await self._redis.zrangebyscore(online_index(self._prefix, team_id), now_ms, "+inf")
        edges = [e.decode() if isinstance(e, bytes) else str(e) for e in raw_edges]
        if not edges:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for edge in edges:
                key = online_key(self._prefix, team_id, edge)
                if user_id is None:
                    pipe.hgetall(key)
                else:
                    pipe.hget(key, user_id)
            answers = await pipe.execute()
        out: dict[str, dict[str, Counts]] = {}
        for edge, answer in zip(edges, answers, strict=True):
            items: list[tuple[Any, Any]]
            if user_id is None:
                items = list(answer.items()) if isinstance(answer, dict) else []
            else:
                items = [(user_id, answer)] if answer is not None else []
            users = {}
            for user, raw in items:
                counts = _counts(raw)
                if counts is not None:
                    users[user.decode() if isinstance(user, bytes) else str(user)] = counts
            if users:
                out[edge] = users
        return out

    async def close(self) -> None:
        await self._redis.aclose()
