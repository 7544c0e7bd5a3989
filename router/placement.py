"""Which edge serves a workspace's next connection.

Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing
with Bounded Loads", SODA 2018), keyed by workspace and made warm-aware. Pure: the caller passes
the edges with their current loads and what the shared registry says is warm; nothing here does
I/O, so every router instance that sees the same inputs makes the same decision.

How one decision is made, for the first region of the client's preference list that can take it:

1. Candidates are the region's healthy, non-draining edges below their hard capacity.
2. Every candidate gets the same bound ``ceil(c * (total + 1) / n)``: the mean counts the
   connection being placed, so some edge is always under it (for ``c >= 1``) and no edge ever
   goes above ``ceil(c * mean)``.
3. The workspace's ring order (virtual nodes, blake2b) is split into its *spill set*, the first
   ``spill_k`` edges, and the rest. The edge taken is the first under the bound in this order:
   warm edges of the spill set, cold edges of the spill set, warm edges beyond, cold edges beyond.

So a warm edge is kept while it is under its bound even when an edge joins ahead of it on the ring
(it moves back one place and stays in the spill set for ``spill_k >= 2``); a big workspace fills
its spill set one edge after the other and reaches a ``spill_k + 1``-th edge only when all of its
spill set is at the bound; and a workspace left warm on an edge outside its spill set (after
overflow, or after ``spill_k`` edges joined ahead of it) drifts back to its own edges instead of
staying pinned to old ones forever.
"""

from __future__ import annotations

import enum
import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "DEFAULT_C",
    "DEFAULT_SPILL_K",
    "DEFAULT_VNODES",
    "Edge",
    "NoEdgeAvailable",
    "Placement",
    "Placer",
    "Reason",
    "WarmRegistry",
    "ring_order",
    "stable_hash",
]

DEFAULT_C = 1.25
DEFAULT_VNODES = 160
DEFAULT_SPILL_K = 3

#: Either the whole registry (team id -> ids of the edges warm for it) or one team's warm set.
WarmRegistry = Mapping[str, AbstractSet[str]] | AbstractSet[str]


@dataclass(frozen=True, slots=True)
class Edge:
    """One edge cache as the router sees it right now.

    ``load`` is what the bound balances (live connections in the router, assigned workspaces in
    some simulations); ``capacity`` is a hard limit on the same unit that the edge never exceeds.
    """

    id: str
    region: str
    load: int
    capacity: int
    draining: bool = False
    healthy: bool = True

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("edge id must not be empty")
        if self.load < 0 or self.capacity < 0:
            raise ValueError(f"edge {self.id!r}: load and capacity must be >= 0")

    @property
    def eligible(self) -> bool:
        """Whether new connections may go here at all (load aside)."""
        return self.healthy and not self.draining and self.load < self.capacity


class Reason(enum.StrEnum):
    """Why an edge was chosen, most notable first (see ``Placement.reason``)."""

    FAILOVER = "failover"
    SPILL = "spill"
    WARM = "warm"
    COLD = "cold"


@dataclass(frozen=True, slots=True)
class Placement:
    """The decision: the edge to use and the facts that led there.

    ``warm``: the edge already held the workspace. ``spilled``: the workspace's first choice was
    at the bound, so a later edge of its order took the connection. ``failover``: the client's own
    region could not take it. ``bound``: the per-edge limit that applied in ``region``.
    """

    edge_id: str
    region: str
    warm: bool
    spilled: bool
    failover: bool
    bound: int

    @property
    def reason(self) -> Reason:
        """One word for logs and metrics; the flags keep the whole story (a spill may be warm)."""
        if self.failover:
            return Reason.FAILOVER
        if self.spilled:
            return Reason.SPILL
        return Reason.WARM if self.warm else Reason.COLD


class NoEdgeAvailable(Exception):
    """No region of the client's preference list has an edge that can take the connection."""

    def __init__(self, team_id: str, region: str, regions_tried: tuple[str, ...]) -> None:
        self.team_id = team_id
        self.region = region
        self.regions_tried = regions_tried
        super().__init__(
            f"no edge available for team {team_id!r} from region {region!r} "
            f"(tried {', '.join(regions_tried)})"
        )


def stable_hash(value: str) -> int:
    """64-bit blake2b: identical in every router process, unlike the salted ``hash()``."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


@lru_cache(maxsize=256)
def _ring(edge_ids: tuple[str, ...], vnodes: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Sorted virtual-node positions and their owners; cached since edge sets rarely change."""
    points = sorted((stable_hash(f"{eid}#{i}"), eid) for eid in edge_ids for i in range(vnodes))
    return tuple(p for p, _ in points), tuple(eid for _, eid in points)


def ring_order(key: str, edge_ids: Iterable[str], vnodes: int = DEFAULT_VNODES) -> tuple[str, ...]:
    """All distinct edges in the order met walking the ring clockwise from ``key``.

    Plain consistent hashing places ``key`` on the first one; the order depends only on the set
    of ids, never on the order they are given in.
    """
    ids = tuple(sorted(set(edge_ids)))
    if not ids:
        return ()
    positions, owners = _ring(ids, vnodes)
    start = bisect_right(positions, stable_hash(key))
    size = len(owners)
    order: list[str] = []
    seen: set[str] = set()
    for step in range(size):
        eid = owners[(start + step) % size]
        if eid not in seen:
            seen.add(eid)
            order.append(eid)
            if len(order) == len(ids):
                break
    return tuple(order)


def _warm_for(team_id: str, warm: WarmRegistry) -> AbstractSet[str]:
    if isinstance(warm, Mapping):
        return warm.get(team_id, frozenset())
    if isinstance(warm, str):  # a str is a set-like of characters: almost surely a caller bug
        raise TypeError("warm must be a set of edge ids or a team -> edge ids mapping")
    return warm


class Placer:
    """Bounded-load, warm-aware placement of workspaces on edges, with regional failover.

    ``c`` (>= 1) is taken as the nearest fraction with denominator <= 10**6, so that 1.1 means
    exactly 11/10 and bounds never drift by float rounding. ``region_preference`` maps a region
    to the regions to try, in order; the client's own region is always tried first.
    """

    __slots__ = ("_c", "_preference", "c", "spill_k", "vnodes")

    def __init__(
        self,
        c: float = DEFAULT_C,
        vnodes: int = DEFAULT_VNODES,
        spill_k: int = DEFAULT_SPILL_K,
        region_preference: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if c < 1:
            raise ValueError("c must be >= 1: below that the bounds cannot hold every connection")
        if vnodes < 1 or spill_k < 1:
            raise ValueError("vnodes and spill_k must be >= 1")
        self.c = c
        self.vnodes = vnodes
        self.spill_k = spill_k
        self._c = Fraction(c).limit_denominator(1_000_000)
        self._preference = {r: tuple(rs) for r, rs in (region_preference or {}).items()}

    def bound(self, total_load: int, edges: int) -> int:
        """Per-edge limit ``ceil(c * (total_load + 1) / edges)`` for a region's candidates."""
        if edges < 1:
            raise ValueError("a bound needs at least one edge")
        return -(-self._c.numerator * (total_load + 1) // (self._c.denominator * edges))

    def regions_for(self, region: str) -> tuple[str, ...]:
        """The regions tried for a client of ``region``, own region first, no duplicates."""
        return tuple(dict.fromkeys((region, *self._preference.get(region, ()))))

    def preference(
        self, team_id: str, edge_ids: Iterable[str], warm: WarmRegistry = frozenset()
    ) -> tuple[str, ...]:
        """The order in which ``team_id`` tries ``edge_ids`` (one region's candidates)."""
        order = ring_order(team_id, edge_ids, self.vnodes)
        hot = _warm_for(team_id, warm)
        spill, beyond = order[: self.spill_k], order[self.spill_k :]
        return (
            *(e for e in spill if e in hot),
            *(e for e in spill if e not in hot),
            *(e for e in beyond if e in hot),
            *(e for e in beyond if e not in hot),
        )

    def place(
        self,
        team_id: str,
        region: str,
        edges: Sequence[Edge],
        warm: WarmRegistry = frozenset(),
    ) -> Placement:
        """Choose the edge for one new connection of ``team_id`` from a client in ``region``.

        Raises ``NoEdgeAvailable`` when no region of the preference list has an eligible edge
        (a region whose edges are all at their hard capacity counts as unavailable too).
        """
        hot = _warm_for(team_id, warm)
        tried = self.regions_for(region)
        for candidate_region in tried:
            by_id: dict[str, Edge] = {}
            for edge in edges:
                if edge.region != candidate_region:
                    continue
                if edge.id in by_id:
                    raise ValueError(f"duplicate edge id {edge.id!r}")
                by_id[edge.id] = edge
            candidates = {eid: e for eid, e in by_id.items() if e.eligible}
            if not candidates:
                continue
            limit = self.bound(sum(e.load for e in candidates.values()), len(candidates))
            order = self.preference(team_id, candidates, hot)
            for rank, eid in enumerate(order):
                if candidates[eid].load < limit:
                    return Placement(
                        edge_id=eid,
                        region=candidate_region,
                        warm=eid in hot,
                        spilled=rank > 0,
                        failover=candidate_region != region,
                        bound=limit,
                    )
        raise NoEdgeAvailable(team_id, region, tried)
