"""Single-flight, batched asks: many concurrent lookups of keys become few calls.

Used wherever a storm brings many lookups of the same kind at once: token checks at the router
and the edges (:mod:`wire.tokencheck`), manual-away lookups at the edges (:mod:`wire.presence`).
A key already asked for shares that ask (single-flight); keys asked for while ``max_inflight``
calls are out wait and go together in the next one (up to ``max_batch``), so an idle caller pays
no delay and a storm pays one round trip per batch, not per key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

MAX_BATCH = 500
"""Keys a call carries unless its caller says otherwise (the token-check endpoint's own limit)."""

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

Fetch = Callable[[list[K]], Awaitable[list[R]]]
"""Answers for the keys given, one per key, in order (an exception fails all of them)."""


class BatchCalls(Generic[K, R]):
    """Single-flight, batched asks: see :mod:`wire.batching`. ``calls`` counts round trips."""

    def __init__(
        self, fetch: Fetch[K, R], max_batch: int = MAX_BATCH, max_inflight: int = 2, window_s: float = 0.0
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
