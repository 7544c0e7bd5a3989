"""Token checks at the edge: asked of the origin once, then cached for a short TTL.

Entries are keyed by the token's SHA-256, so a raw token is never a cache key nor logged.
A ``token_revoked`` event from the change log drops the entry at once (and the RTM layer
closes that token's connections), so revocation does not wait for the TTL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiocache import SimpleMemoryCache

from flannel.origin_client import OriginClient
from wire.errors import SlackError
from wire.tokens import token_hash


class AuthError(SlackError):
    """The token was refused (``not_authed``, ``invalid_auth``, ``token_revoked``...)."""


@dataclass(frozen=True)
class EdgeCaller:
    team_id: str
    user_id: str
    token_hash: str


class TokenAuth:
    """Who a token belongs to, as the origin says, remembered for ``ttl_s``.

    Every Web API call at the edge starts with a token check; asking the origin each time
    would make the origin pay for reads the edge answers from memory. So answers are cached
    (by the token's hash), concurrent checks of one token share one question, and the change
    log's ``token_revoked`` / deactivations drop entries at once (:meth:`revoke`,
    :meth:`forget_user`) rather than after the TTL.
    """

    def __init__(self, origin: OriginClient, ttl_s: float = 30.0) -> None:
        self.origin = origin
        self.ttl_s = ttl_s
        self._cache = SimpleMemoryCache()
        self.hits = 0
        self.misses = 0
        self._inflight: dict[str, asyncio.Future[EdgeCaller]] = {}

    async def check(self, token: str | None, fresh: bool = False) -> EdgeCaller:
        if not token:
            raise AuthError("not_authed")
        key = token_hash(token)
        cached: EdgeCaller | None = None if fresh else await self._cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        pending = self._inflight.get(key)
        if pending is None:  # concurrent checks of one token ask the origin once
            pending = asyncio.ensure_future(self._ask(token, key))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(pending)

    async def _ask(self, token: str, key: str) -> EdgeCaller:
        body = await self.origin.call("auth.test", token, {})
        if not body.get("ok"):
            raise AuthError(str(body.get("error", "invalid_auth")))
        caller = EdgeCaller(str(body["team_id"]), str(body["user_id"]), key)
        await self._cache.set(key, caller, ttl=self.ttl_s)
        return caller

    async def revoke(self, hashed: str) -> None:
        await self._cache.delete(hashed)

    async def forget_user(self, team_id: str, user_id: str) -> None:
        """A deactivated user: drop every cached token of theirs."""
        for key, value in list(self._cache._cache.items()):  # the memory backend's dict
            if isinstance(value, EdgeCaller) and (value.team_id, value.user_id) == (team_id, user_id):
                await self._cache.delete(key)
