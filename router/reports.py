"""Edges that clients could not reach: who said so, and whether to stop placing anyone there.

After kill -9 an edge's registration outlives it by up to its TTL (three heartbeats, about 6 s),
and a router that trusts the registry alone sends clients to a dead port all that time. A
client that could not reach (or lost, without a close frame) the edge it was given names it
on its next ``rtm.connect`` (``failed_edge``). The router then

- never gives that client the same edge back, for that connect (the caller's ``avoid``);
- leaves the edge out for everyone once ``reporters`` distinct clients reported it, or one did
  while the edge's heartbeat is late (``late_beats`` intervals old): a dead edge stops
  heartbeating, so a report and a late heartbeat together say more than either alone.

Only reports newer than the edge's last heartbeat count: an edge that heartbeats again is back
at once, so reports cannot keep a live edge out for longer than one heartbeat interval (a
client's own network trouble, or a hostile client, costs that edge little). Report times are
the router's clock, heartbeat times the edge's: the two are assumed NTP-close, as the pending
loads already assume (:mod:`router.loads`). Pure, with an injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Reporters remembered per edge (the oldest are dropped): bounds memory under a report flood.
MAX_REPORTERS = 256


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    reporters: int = 3
    window_s: float = 10.0
    late_beats: float = 1.5

    def __post_init__(self) -> None:
        if self.reporters < 1 or self.window_s <= 0 or self.late_beats <= 0:
            raise ValueError("reporters >= 1, window_s > 0 and late_beats > 0")


class EdgeReports:
    """Reports of unreachable edges, by edge and reporter, and the decision they lead to."""

    def __init__(self, policy: ReportPolicy | None = None, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy or ReportPolicy()
        self._clock = clock
        self._by_edge: dict[str, dict[str, float]] = {}  # edge id -> reporter -> Unix seconds

    def report(self, edge_id: str, reporter: str) -> None:
        """``reporter`` (one client: team and user) could not reach ``edge_id`` just now."""
        now = self._clock()
        reports = self._by_edge.setdefault(edge_id, {})
        reports.pop(reporter, None)  # re-inserted last: the dict stays ordered oldest first
        reports[reporter] = now
        self._prune(reports, now)

    def recent(self, edge_id: str, heartbeat_at: float) -> int:
        """Distinct reporters of ``edge_id`` since its heartbeat at ``heartbeat_at``, in the window."""
        reports = self._by_edge.get(edge_id)
        if not reports:
            return 0
        now = self._clock()
        self._prune(reports, now)
        return sum(at > heartbeat_at for at in reports.values())

    def suspended(self, edge_id: str, heartbeat_at: float, heartbeat_s: float) -> bool:
        """Whether to place no one on ``edge_id``, whose last heartbeat was at ``heartbeat_at``
        (Unix seconds) and who beats every ``heartbeat_s`` (0: unknown, never late)."""
        count = self.recent(edge_id, heartbeat_at)
        if count >= self.policy.reporters:
            return True
        late = heartbeat_s > 0 and self._clock() - heartbeat_at > self.policy.late_beats * heartbeat_s
        return count >= 1 and late

    def forget(self, live: set[str]) -> None:
        """Drop edges that left the registry."""
        for edge_id in [e for e in self._by_edge if e not in live]:
            del self._by_edge[edge_id]

    def _prune(self, reports: dict[str, float], now: float) -> None:
        floor = now - self.policy.window_s
        for reporter in [r for r, at in reports.items() if at <= floor]:
            del reports[reporter]
        while len(reports) > MAX_REPORTERS:
            del reports[next(iter(reports))]
