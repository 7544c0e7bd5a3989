"""In-process adapters: one bus and one online store shared by every edge of the process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from ephemeral.ports import Handler
from wire import bus
from wire.bus import Counts, Envelope

log = logging.getLogger("flannel.ephemeral")


class MemoryBus:
    """A bus within one process. Envelopes are encoded and decoded as on Redis, so a
    malformed one fails here too; handlers run synchronously in the publisher's call.

    Several edges in one process share one :class:`MemoryBus`; each subscribes through its
    own :meth:`view` (so two edges can hold the same workspace)."""

    def __init__(self) -> None:
        self._handlers: dict[str, dict[int, Handler]] = {}
        self._next = 0
        self.published = 0

    def view(self) -> MemoryBusView:
        self._next += 1
        return MemoryBusView(self, self._next)

    async def publish(self, envelope: Envelope) -> None:
        self.published += 1
        data = bus.encode(envelope)
        for handler in list(self._handlers.get(envelope.team, {}).values()):
            try:
                handler(bus.decode(data))
            except Exception:
                log.exception("an ephemeral handler failed")

    def _subscribe(self, team_id: str, key: int, handler: Handler) -> None:
        self._handlers.setdefault(team_id, {})[key] = handler

    def _unsubscribe(self, team_id: str, key: int) -> None:
        handlers = self._handlers.get(team_id)
        if handlers is not None:
            handlers.pop(key, None)
            if not handlers:
                del self._handlers[team_id]

    # A MemoryBus is itself a Bus too (one subscriber per workspace: view 0).
    async def subscribe(self, team_id: str, handler: Handler) -> None:
        self._subscribe(team_id, 0, handler)

    async def unsubscribe(self, team_id: str) -> None:
        self._unsubscribe(team_id, 0)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class MemoryBusView:
    """One subscriber's handle on a shared :class:`MemoryBus` (a :class:`ephemeral.Bus`)."""

    def __init__(self, shared: MemoryBus, key: int) -> None:
        self._shared = shared
        self._key = key
        self._teams: set[str] = set()

    async def publish(self, envelope: Envelope) -> None:
        await self._shared.publish(envelope)

    async def subscribe(self, team_id: str, handler: Handler) -> None:
        self._teams.add(team_id)
        self._shared._subscribe(team_id, self._key, handler)

    async def unsubscribe(self, team_id: str) -> None:
        self._teams.discard(team_id)
        self._shared._unsubscribe(team_id, self._key)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for team_id in list(self._teams):
            await self.unsubscribe(team_id)


class MemoryOnline:
    """:class:`ephemeral.OnlineStore` in memory, with the same expiry as on Redis."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._reports: dict[tuple[str, str], tuple[float, dict[str, Counts]]] = {}

    def _live(self, team_id: str, edge: str) -> dict[str, Counts]:
        key = (team_id, edge)
        found = self._reports.get(key)
        if found is None or found[0] <= self._clock():
            self._reports.pop(key, None)
            return {}
        return found[1]

    async def report(self, team_id: str, edge: str, users: Mapping[str, Counts | None], ttl_s: float) -> None:
        current = self._live(team_id, edge)
        for user, counts in users.items():
            if counts is None:
                current.pop(user, None)
            else:
                current[user] = counts
        self._reports[(team_id, edge)] = (self._clock() + ttl_s, current)

    async def refresh(self, team_id: str, edge: str, ttl_s: float) -> None:
        current = self._live(team_id, edge)
        self._reports[(team_id, edge)] = (self._clock() + ttl_s, current)

    async def forget(self, team_id: str, edge: str) -> None:
        self._reports.pop((team_id, edge), None)

    async def read(self, team_id: str, user_id: str | None = None) -> dict[str, dict[str, Counts]]:
        out: dict[str, dict[str, Counts]] = {}
        for team, edge in list(self._reports):
            if team != team_id:
                continue
            users = self._live(team, edge)
            if user_id is not None:
                users = {user_id: users[user_id]} if user_id in users else {}
            if users:
                out[edge] = dict(users)
        return out

    async def close(self) -> None:
        return None
