"""Batched and coalesced lookups by id: many callers, few requests.

A screen that renders 50 messages asks for 50 senders at once, mostly the same few people.
Ids asked for within ``window`` seconds go out as one request (at most ``max_batch`` ids), and
an id already on its way is never asked for again: its callers await the same future.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")
Fetch = Callable[[list[str]], Awaitable[Mapping[str, V]]]
"""Fetch these ids; the answer leaves out the ones that do not exist."""


class Coalescer(Generic[V]):
    def __init__(self, fetch: Fetch[V], *, window: float = 0.002, max_batch: int = 100) -> None:
        self._fetch = fetch
        self.window = window
        self.max_batch = max_batch
        self.requests = 0
        self._inflight: dict[str, asyncio.Future[V | None]] = {}
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, ids: Iterable[str]) -> dict[str, V]:
        """The values of ``ids`` that exist (absent ones are left out)."""
        wanted = list(dict.fromkeys(ids))
        futures = [self._future(i) for i in wanted]
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._flush)
        # Shielded: one caller giving up must not cancel what other callers share.
        values = await asyncio.gather(*(asyncio.shield(f) for f in futures))
        return {i: v for i, v in zip(wanted, values, strict=True) if v is not None}

    def _future(self, key: str) -> asyncio.Future[V | None]:
        future = self._inflight.get(key)
        if future is None:
            future = self._inflight[key] = asyncio.get_running_loop().create_future()
            self._pending.append(key)
            if len(self._pending) >= self.max_batch:
                self._flush()
        return future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[str]) -> None:
        self.requests += 1
        try:
            found = await self._fetch(batch)
        except Exception as exc:
            for key in batch:
                future = self._inflight.pop(key, None)
                if future is not None and not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: a caller that gave up must not warn
            return
        except BaseException:
            for key in batch:
                future = self._inflight.pop(key, None)
                if future is not None:
                    future.cancel()
            raise
        for key in batch:
            future = self._inflight.pop(key, None)
            if future is not None and not future.done():
                future.set_result(found.get(key))

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for future in self._inflight.values():
            future.cancel()
        self._inflight.clear()
        self._pending.clear()
