"""Checking many tokens in one call: the origin's batch endpoint and the batcher its callers use.

A reconnect storm brings hundreds of tokens new to the router (or an edge) at once; asking the
origin's ``auth.test`` for each is one HTTP round trip and one request's overhead per token.
Instead, callers send the tokens waiting at that moment in one ``POST`` to
:data:`TOKEN_CHECK_PATH` (with the service secret)::

    {"tokens": ["xoxp-...", ...]}                      (at most MAX_TOKENS)
    {"ok": true, "results": [<auth.test answer>, ...]}  (one per token, in order)

Each result is exactly what ``auth.test`` would have answered for that token alone (``ok``
true with ``team_id``, ``user_id``..., or ``ok`` false with Slack's ``error``), so a caller
handles both the same way.

:class:`BatchCalls` is the caller's side: concurrent asks for keys become few calls. A key
already asked for shares that ask (single-flight); keys asked for while ``max_inflight`` calls
are out wait and go together in the next one (up to ``max_batch``), so an idle caller pays no
delay and a storm pays one round trip per batch, not per key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

TOKEN_CHECK_PATH = "/internal/tokens/check"
MAX_TOKENS = 500


def check_request(body: Any) -> list[str]:
    """The tokens of a batch request, or ValueError saying what is wrong with it."""
    tokens = body.get("tokens") if isinstance(body, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError("tokens must be a list of strings")
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"at most {MAX_TOKENS} tokens a call")
    return tokens


def check_answer(body: Any, n: int) -> list[dict[str, Any]]:
    """The per-token results of a batch answer, or ValueError when it is not one for ``n``."""
    results = body.get("results") if isinstance(body, dict) and body.get("ok") is True else None
    if not isinstance(results, list) or len(results) != n or not all(isinstance(r, dict) for r in results):
        raise ValueError("not a token-check answer")
    return results


K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

Fetch = Callable[[list[K]], Awaitable[list[R]]]
"""Answers for the keys given, one per key, in order (an exception fails all of them)."""


class BatchCalls(Generic[K, R]):
    """Single-flight, batched asks: see the module docstring. ``calls`` counts round trips."""

    def __init__(
        self, fetch: Fetch[K, R], max_batch: int = MAX_TOKENS, max_inflight: int = 2, window_s: float = 0.0
    ) -> None:
        """``window_s``: how long a first key waits for others to join its call (0: the end of
        this loop turn); for callers to whom a few milliseconds cost nothing (a background
        lookup), so a storm spread over time still makes few, full calls."""
        if max_batch < 1 or max_inflight < 1 or window_s < 0:
            raise ValueError("max_batch and max_inflight must be at least 1, window_s not negative")
        self._fetch = fetch
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self.window_s = window_s
        self.calls = 0
        self.keys = 0
        self._waiting: dict[K, asyncio.Future[R]] = {}  # asked for, not sent yet
        self._sent: dict[K, asyncio.Future[R]] = {}  # in a call that is out
        self._inflight = 0
        self._scheduled = False

    async def get(self, key: K) -> R:
        future = self._waiting.get(key) or self._sent.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[key] = future
            if not self._scheduled:  # keys asked for in this loop turn (or window) go together
                self._schedule()
        return await asyncio.shield(future)

    def _schedule(self) -> None:
        self._scheduled = True
        loop = asyncio.get_running_loop()
        if self.window_s:
            loop.call_later(self.window_s, self._dispatch)
        else:
            loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        while self._waiting and self._inflight < self.max_inflight:
            keys = list(self._waiting)[: self.max_batch]
            batch = {k: self._waiting.pop(k) for k in keys}
            self._sent.update(batch)
            self._inflight += 1
            self.calls += 1
            self.keys += len(batch)
            asyncio.get_running_loop().create_task(self._call(batch))

    async def _call(self, batch: dict[K, asyncio.Future[R]]) -> None:
        try:
            results = await self._fetch(list(batch))
            if len(results) != len(batch):
                raise ValueError(f"{len(results)} answers for {len(batch)} keys")
        except BaseException as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: every waiter may have gone
            if not isinstance(exc, Exception):
                raise
        else:
            for future, result in zip(batch.values(), results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            for key, future in batch.items():
                if self._sent.get(key) is future:
                    del self._sent[key]
            self._inflight -= 1
            if self._waiting and not self._scheduled:
                self._schedule()
