"""Token checks at the edge: asked of the origin once, then cached for a short TTL.

Entries are keyed by the token's SHA-256, so a raw token is never a cache key nor logged.
A ``token_revoked`` event from the change log drops the entry at once (and the RTM layer
closes that token's connections), so revocation does not wait for the TTL.

The cache is a plain bounded dict with a TTL (:class:`flannel.tokencache.TtlCache`): a hit is
a hash and a dict lookup, with no task, timer or ``await`` (every Web API call starts here).

Misses are batched (:class:`wire.batching.BatchCalls`): the tokens new at one moment (a
connect storm's ``rtm.connect`` calls) go to the origin in one call of its batch endpoint, as
the router's do, instead of one ``auth.test`` each. An origin without the endpoint is asked
``auth.test`` per token from then on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from flannel.origin_client import NoBatchCheck, OriginClient
from flannel.tokencache import Clock, TtlCache
from wire.batching import BatchCalls
from wire.errors import SlackError
from wire.tokencheck import MAX_TOKENS
from wire.tokens import token_hash

#: Cached token checks at most (a few MB); the oldest go first when full.
MAX_CACHED_TOKENS = 100_000


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

    def __init__(
        self,
        origin: OriginClient,
        ttl_s: float = 30.0,
        *,
        max_entries: int = MAX_CACHED_TOKENS,
        clock: Clock = time.monotonic,
        batched: bool = True,
    ) -> None:
        self.origin = origin
        self._cache: TtlCache[EdgeCaller] = TtlCache(ttl_s, max_entries, clock)
        self.hits = 0
        self.misses = 0
        self._inflight: dict[str, asyncio.Future[EdgeCaller]] = {}
        # Bumped by every revocation: an answer asked for before one is returned, not cached.
        self._epoch = 0
        self._batched = batched and hasattr(origin, "check_tokens")
        self._batches: BatchCalls[str, dict[str, Any]] = BatchCalls(self._ask_many, MAX_TOKENS, 2)

    @property
    def origin_calls(self) -> int:
        """Batch calls made to the origin for token checks (``auth.test`` ones not counted)."""
        return self._batches.calls

    @property
    def ttl_s(self) -> float:
        return self._cache.ttl_s

    def cached(self, token: str, count: bool = True) -> EdgeCaller | None:
        """The token's cached check, or None (not cached, or expired): :meth:`check`'s hit,
        without a coroutine (the Web API's hot path asks this first). ``count=False`` only
        looks (the HTTP protocol's quick path asks before it decides to answer)."""
        cached = self._cache.get(token_hash(token))
        if cached is not None and count:
            self.hits += 1
        return cached

    async def check(self, token: str | None, fresh: bool = False) -> EdgeCaller:
        if not token:
            raise AuthError("not_authed")
        key = token_hash(token)
        if not fresh:
            cached = self._cache.get(key)
            if cached is not None:
                self.hits += 1
                return cached
        self.misses += 1
        pending = self._inflight.get(key)
        if pending is None:  # concurrent checks of one token ask the origin once
            pending = asyncio.ensure_future(self._ask(token, key, self._epoch))
            self._inflight[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)

    def _settled(self, key: str, done: asyncio.Future[EdgeCaller]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]

    async def _ask_many(self, tokens: list[str]) -> list[dict[str, Any]]:
        return await self.origin.check_tokens(tokens)

    async def _auth_test(self, token: str) -> dict[str, Any]:
        if self._batched:
            try:
                return await self._batches.get(token)
            except NoBatchCheck:
                self._batched = False
        return await self.origin.call("auth.test", token, {})

    async def _ask(self, token: str, key: str, epoch: int) -> EdgeCaller:
        body = await self._auth_test(token)
        if not body.get("ok"):
            raise AuthError(str(body.get("error", "invalid_auth")))
        caller = EdgeCaller(str(body["team_id"]), str(body["user_id"]), key)
        if epoch == self._epoch:  # no revocation arrived while the origin was answering
            self._cache.set(key, caller)
        return caller

    async def revoke(self, hashed: str) -> None:
        self._epoch += 1
        self._cache.delete(hashed)
        self._inflight.pop(hashed, None)  # a check from now on asks the origin again

    async def forget_user(self, team_id: str, user_id: str) -> None:
        """A deactivated user: drop every cached token of theirs."""
        self._epoch += 1
        for key, value in self._cache.items():
            if (value.team_id, value.user_id) == (team_id, user_id):
                self._cache.delete(key)
        # Checks in flight may be this user's (their hash is all we know): ask again from now on.
        self._inflight.clear()
