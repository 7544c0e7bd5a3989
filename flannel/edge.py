"""The running edge: cache, sessions and origin client wired together.

``Edge`` holds the parts and the three flows between them: a change-log event applied by the
cache is routed to the sessions that may see it (encoded once); a cache resync closes the
workspace's sessions so their clients resume or resync; a revoked token or a deactivated
user closes its sessions and drops its cached token checks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

import orjson

from changelog import ChangeLog, LogReader, MemoryLog, RedisLog
from flannel.auth import EdgeCaller, TokenAuth
from flannel.cache import CacheError, Workspace, WorkspaceCache
from flannel.nonces import RedisNonceStore
from flannel.origin_client import OriginClient
from flannel.regional import RegionalSnapshots, redis_cache
from flannel.rtm import Drainer, Fanout, MemoryNonceStore, NonceStore, Session
from flannel.settings import EdgeSettings

CLOSE_RESYNC = 4010


class WorkspaceAccess:
    """The fanout's view of one workspace (``flannel.rtm.Access``)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def can_see(self, user_id: str, channel_id: str) -> bool:
        return self.ws.can_see(user_id, channel_id)

    def members_of(self, channel_id: str) -> Collection[str]:
        return self.ws._state.members.get(channel_id, frozenset())

    def user(self, user_id: str) -> Mapping[str, Any] | None:
        try:
            return self.ws.user(user_id)
        except CacheError:
            return None


class Edge:
    def __init__(self, settings: EdgeSettings, changelog: ChangeLog | None = None) -> None:
        self.settings = settings
        self.own_log = changelog is None
        self.changelog: ChangeLog = changelog or (
            RedisLog(settings.redis_url, settings.redis_prefix) if settings.redis_url else MemoryLog()
        )
        self.origin = OriginClient(settings.origin_url, settings.secret)
        self.auth = TokenAuth(self.origin, settings.token_ttl_s)
        cache = (
            redis_cache(settings.redis_url, f"{settings.redis_prefix}snap:{settings.region}:")
            if (settings.redis_url)
            else None
        )
        self.regional = RegionalSnapshots(cache, self.origin.snapshot, settings.regional_snapshot_ttl_s)
        self.reader = LogReader(self.changelog)  # type: ignore[arg-type]
        self.loaded_once: set[str] = set()
        self.cache = WorkspaceCache(
            self._load,
            self.reader.subscribe,
            max_bytes=int(settings.cache_mb * 1024 * 1024),
            on_event=self._on_event,
            on_resync=self._on_resync,
        )
        self.fanout = Fanout()
        self.nonces: NonceStore = (
            RedisNonceStore(settings.redis_url, settings.redis_prefix, settings.edge_id)
            if settings.redis_url
            else MemoryNonceStore()
        )
        self.wakers: dict[int, asyncio.Event] = {}
        self.draining = False
        self.started = time.time()
        # Token hashes revoked lately: a ticket signed (by a router whose token cache had not
        # heard yet) just before a revocation must not open a session after it.
        self.revoked: dict[str, float] = {}

    async def _load(self, team_id: str) -> AsyncIterator[dict[str, Any]]:
        """A first load may come from the regional snapshot; a reload (after "too old") must
        come from the origin, since the regional copy may be what was too old."""
        source = self.origin.snapshot if team_id in self.loaded_once else self.regional.pages
        self.loaded_once.add(team_id)
        async for page in source(team_id):
            if page.get("type") == "header":
                now = time.time()
                for hashed in page.get("revoked_tokens", ()):
                    self.revoked[str(hashed)] = now
            yield page

    def access(self, team_id: str) -> WorkspaceAccess | None:
        ws = self.cache.peek(team_id)
        return WorkspaceAccess(ws) if ws is not None else None

    def wake(self, sessions: list[Session]) -> None:
        for session in sessions:
            waker = self.wakers.get(session.id)
            if waker is not None:
                waker.set()

    async def _on_event(self, team_id: str, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "token_revoked":
            hashed = str(event.get("token_hash", ""))
            await self.auth.revoke(hashed)
            now = time.time()
            self.revoked = {h: t for h, t in self.revoked.items() if now - t < 300}
            self.revoked[hashed] = now
        elif kind == "user_change" and event.get("user", {}).get("deleted"):
            await self.auth.forget_user(team_id, str(event["user"]["id"]))
        access = self.access(team_id)
        if access is None:
            return
        routed = self.fanout.route(team_id, event, access)
        self.wake(self.fanout.sessions(team_id))
        if routed.closing:
            self.wake(routed.closing)

    async def _on_resync(self, team_id: str) -> None:
        """The cache had to reload: its clients may have missed events, so they reconnect and
        resume (or are told to resync) through the ordinary path."""
        sessions = self.fanout.sessions(team_id)
        for session in sessions:
            session.queue.put(orjson.dumps({"type": "resync", "reason": "edge_reloaded"}))
            session.close(CLOSE_RESYNC, "resync")
        self.wake(sessions)

    async def drain(self) -> None:
        """Stop new sessions; send ``goodbye`` to the connected ones, spread over the window."""
        self.draining = True
        t0 = time.monotonic()
        schedule = sorted(
            Drainer(self.settings.drain_window_s).schedule(self.fanout.sessions()), key=lambda item: item[0]
        )
        for delay, session in schedule:
            await asyncio.sleep(max(0.0, t0 + delay - time.monotonic()))
            session.queue.put(orjson.dumps({"type": "goodbye", "source": "drain"}))
            session.close(1001, "draining")
            self.wake([session])

    async def authenticate(self, token: str | None) -> EdgeCaller:
        """The token's caller. A cached check is only trusted while the workspace is loaded
        (and so following the log, where revocations arrive); else the origin is asked again."""
        caller = await self.auth.check(token)
        if self.cache.peek(caller.team_id) is None:
            caller = await self.auth.check(token, fresh=True)
        return caller

    async def user_of(self, team_id: str, user_id: str, wait_s: float = 2.0) -> dict[str, Any] | None:
        """The user from the cache, waiting briefly for a brand-new one (its ``team_join`` may
        still be on its way through the log)."""
        deadline = time.monotonic() + wait_s
        while True:
            ws = await self.cache.get(team_id)
            try:
                return ws.user(user_id)
            except CacheError:
                if time.monotonic() >= deadline:
                    return None
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        closer = getattr(self.nonces, "close", None)
        if closer is not None:
            await closer()
        await self.cache.close()
        await self.reader.close()
        await self.regional.close()
        await self.origin.close()
        if self.own_log:
            await self.changelog.close()
