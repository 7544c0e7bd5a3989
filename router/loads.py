"""Loads as placement should see them: the last heartbeat plus what it cannot know yet.

An edge reports its live connections once per heartbeat. Between two, a burst of connects
would all see the same stale count and the load bound would not hold; so the router adds the
sessions it sent to each edge after the edge's last report. Other routers' sessions arrive
with the next heartbeat. Pure, with an injected clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class PendingLoads:
    def __init__(self, horizon_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.horizon_s = horizon_s
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def add(self, edge_id: str) -> None:
        now = self._clock()
        sent = self._sent.setdefault(edge_id, deque())
        sent.append(now)
        while sent and sent[0] < now - self.horizon_s:
            sent.popleft()

    def since(self, edge_id: str, reported_at: float) -> int:
        """Sessions sent to ``edge_id`` after its report at ``reported_at`` (Unix seconds)."""
        sent = self._sent.get(edge_id)
        if not sent:
            return 0
        floor = max(reported_at, self._clock() - self.horizon_s)
        while sent and sent[0] <= floor:
            sent.popleft()
        return len(sent)

    def forget(self, live: set[str]) -> None:
        """Drop edges that left the registry."""
        for eid in [eid for eid in self._sent if eid not in live]:
            del self._sent[eid]
