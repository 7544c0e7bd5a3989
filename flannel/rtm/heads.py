"""The log head as admission reads it: one read per workspace per loop turn, never a stale one.

Admission on a workspace that was not yet seen at the head reads the change log's last offset
(:meth:`flannel.edge.Edge.caught_up`) so that a revocation or deactivation committed before the
client arrived refuses it, rather than following its hello. In a reconnect storm on a cold edge
every connection arrives before the first load is at the head, and a read each was one Redis
round trip per connection. Callers of one loop turn (the claims of one batch are answered
together, so their connections reach this point together) share one read, started on the next
turn: after each of them arrived, so it is as fresh for each as a read of its own. A read
already under way is never joined (it may have started before the caller arrived).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

ReadHead = Callable[[str], Awaitable[int]]
"""The log's last offset of a workspace."""


class HeadReads:
    """Coalesced log-head reads; ``reads`` counts those made."""

    def __init__(self, read: ReadHead) -> None:
        self._read = read
        self._next: dict[str, asyncio.Future[int]] = {}  # asked for, not started yet
        self.reads = 0

    async def get(self, team_id: str) -> int:
        """The head of ``team_id`` as read after this call began."""
        future = self._next.get(team_id)
        if future is None:
            loop = asyncio.get_running_loop()
            future = self._next[team_id] = loop.create_future()
            loop.call_soon(self._start, team_id)
        return await asyncio.shield(future)

    def _start(self, team_id: str) -> None:
        future = self._next.pop(team_id)
        self.reads += 1
        task = asyncio.ensure_future(self._read(team_id))
        task.add_done_callback(lambda done: _settle(future, done))


def _settle(future: asyncio.Future[int], done: asyncio.Future[int]) -> None:
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif (exc := done.exception()) is not None:
        future.set_exception(exc)
        future.exception()  # retrieved: every waiter may have gone
    else:
        future.set_result(done.result())
