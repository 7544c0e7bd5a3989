"""Every edge's counts of one workspace's users -> each user's presence, with expiry (pure).

A user is active when some live edge reports an active connection of theirs. Each edge's report
expires (``expires`` on the caller's clock) unless refreshed: a dead edge's users drop out on
:meth:`PresenceTable.expire`. Every method that may change presences returns the changes
(user -> new presence), computed against what the table last said.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from wire.bus import Counts
from wire.presence import ACTIVE, AWAY


class PresenceTable:
    def __init__(self) -> None:
        self._edges: dict[str, tuple[float, dict[str, Counts]]] = {}
        self._where: dict[str, set[str]] = {}  # user -> edges reporting them
        self._active: set[str] = set()  # users last said active

    def presence(self, user_id: str) -> str:
        return ACTIVE if user_id in self._active else AWAY

    def edges(self) -> list[str]:
        return list(self._edges)

    def counts(self, user_id: str) -> dict[str, Counts]:
        return {e: self._edges[e][1][user_id] for e in self._where.get(user_id, ())}

    def report(
        self,
        edge: str,
        users: Mapping[str, Counts | None],
        expires: float = math.inf,
        full: bool = False,
    ) -> dict[str, str]:
        """``edge`` reports ``users`` (None: no connection there); ``full`` replaces its report."""
        _, mine = self._edges.get(edge, (expires, {}))
        touched = set(users)
        if full:
            touched.update(mine)
            for user_id in mine:
                self._unwhere(user_id, edge)
            mine = {}
        for user_id, counts in users.items():
            if counts is None or counts.total <= 0:
                if mine.pop(user_id, None) is not None:
                    self._unwhere(user_id, edge)
            else:
                mine[user_id] = counts
                self._where.setdefault(user_id, set()).add(edge)
        self._edges[edge] = (expires, mine)
        return self._recompute(touched)

    def heartbeat(self, edge: str, expires: float) -> None:
        found = self._edges.get(edge)
        self._edges[edge] = (expires, found[1] if found else {})

    def drop(self, edge: str) -> dict[str, str]:
        found = self._edges.pop(edge, None)
        if found is None:
            return {}
        for user_id in found[1]:
            self._unwhere(user_id, edge)
        return self._recompute(found[1])

    def expire(self, now: float) -> dict[str, str]:
        """Drop the reports not refreshed in time (their edges died): the changes."""
        changes: dict[str, str] = {}
        for edge in [e for e, (exp, _) in self._edges.items() if exp <= now]:
            changes.update(self.drop(edge))
        return changes

    def _unwhere(self, user_id: str, edge: str) -> None:
        where = self._where.get(user_id)
        if where is not None:
            where.discard(edge)
            if not where:
                del self._where[user_id]

    def _recompute(self, users: Iterable[str]) -> dict[str, str]:
        changes: dict[str, str] = {}
        for user_id in users:
            now_active = any(self._edges[e][1][user_id].active > 0 for e in self._where.get(user_id, ()))
            if now_active != (user_id in self._active):
                if now_active:
                    self._active.add(user_id)
                else:
                    self._active.discard(user_id)
                changes[user_id] = ACTIVE if now_active else AWAY
        return changes
