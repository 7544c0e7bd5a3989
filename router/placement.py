"""Which edge serves a workspace's next connection.

Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing
with Bounded Loads", SODA 2018), keyed by workspace and made warm-aware. Pure: the caller passes
the edges with their current loads and what the shared registry says is warm; nothing here does
I/O, so every router instance that sees the same inputs makes the same decision.

How one decision is made, for the first region (see *Failover* below) that can take it:

1. Candidates are the region's healthy, non-draining edges below their hard capacity (and not
   the one the client just failed to reach).
2. Every candidate gets the same bound ``ceil(c * (total + 1) / n)``: the mean counts the
   connection being placed, so some edge is always under it (for ``c >= 1``) and no edge ever
   goes above ``ceil(c * mean)``. An edge below its *load floor* (``load_floor`` x its capacity)
   is never over the bound: at tiny loads the bound is 1 or 2 and would split a workspace over
   idle edges, doubling snapshot loads and memory for no protection at all. So no edge goes
   above ``max(ceil(c * mean), ceil(load_floor * capacity))``.
3. The workspace's ring order (virtual nodes, blake2b) is split into its *spill set*, the first
   ``spill_k`` edges, and the rest. The edge taken is the first under the bound in this order:
   warm edges of the spill set, cold edges of the spill set, warm edges beyond, cold edges beyond.

*Failover*: a connection is placed whenever any eligible edge is alive anywhere. Regions are
tried in this order (:func:`region_order`): the client's own, its declared preference; when it
declares none, the default region and the default's preference; the declared global nearness
order; then every other region with an eligible edge, least utilised first.

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
    "DEFAULT_LOAD_FLOOR",
    "DEFAULT_SPILL_K",
    "DEFAULT_VNODES",
    "Edge",
    "NoEdgeAvailable",
    "Placement",
    "Placer",
    "Reason",
    "WarmRegistry",
    "region_order",
    "ring_order",
    "stable_hash",
]

DEFAULT_C = 1.25
DEFAULT_VNODES = 160
DEFAULT_SPILL_K = 3
#: The router's default load floor: 2% of an edge's capacity (200 sessions of the edge's default
#: 10,000). A ``Placer`` built without one has none (the published algorithm, exactly).
DEFAULT_LOAD_FLOOR = 0.02

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
    """No edge anywhere can take the connection (none alive, or all full, draining or avoided)."""

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


def _fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(1_000_000)


def region_order(
    region: str,
    edges: Sequence[Edge],
    preference: Mapping[str, Sequence[str]] | None = None,
    default_region: str | None = None,
    nearness: Sequence[str] = (),
) -> tuple[str, ...]:
    """Every region a client of ``region`` may be placed in, best first, without duplicates.

    The client's own region and its declared preference; when it declares none (an unknown
    region, or one nobody configured), the default region and the default's preference; then
    the declared ``nearness`` order; then every other region that has an eligible edge, the
    least utilised (eligible load over eligible capacity) first, by name on ties.
    """
    prefs = preference or {}
    declared: list[str] = [region, *prefs.get(region, ())]
    if region not in prefs and default_region:
        declared += [default_region, *prefs.get(default_region, ())]
    declared += nearness
    load: dict[str, int] = {}
    room: dict[str, int] = {}
    for edge in edges:
        if edge.eligible:
            load[edge.region] = load.get(edge.region, 0) + edge.load
            room[edge.region] = room.get(edge.region, 0) + edge.capacity
    known = set(declared)
    rest = sorted((r for r in room if r not in known), key=lambda r: (Fraction(load[r], room[r] or 1), r))
    return tuple(dict.fromkeys((*declared, *rest)))


class Placer:
    """Bounded-load, warm-aware placement of workspaces on edges, with failover across regions.

    ``c`` (>= 1) and ``load_floor`` (in [0, 1]) are taken as the nearest fraction with
    denominator <= 10**6, so that 1.1 means exactly 11/10 and bounds never drift by float
    rounding. ``region_preference`` maps a region to the regions to try, in order, after it;
    ``default_region`` stands in for a region that declares none; ``nearness`` is the declared
    order tried after those (see :func:`region_order`).
    """

    __slots__ = (
        "_c",
        "_floor",
        "_preference",
        "c",
        "default_region",
        "load_floor",
        "nearness",
        "spill_k",
        "vnodes",
    )

    def __init__(
        self,
        c: float = DEFAULT_C,
        vnodes: int = DEFAULT_VNODES,
        spill_k: int = DEFAULT_SPILL_K,
        region_preference: Mapping[str, Sequence[str]] | None = None,
        *,
        load_floor: float = 0.0,
        default_region: str | None = None,
        nearness: Sequence[str] = (),
    ) -> None:
        if c < 1:
            raise ValueError("c must be >= 1: below that the bounds cannot hold every connection")
        if vnodes < 1 or spill_k < 1:
            raise ValueError("vnodes and spill_k must be >= 1")
        if not 0 <= load_floor <= 1:
            raise ValueError("load_floor is a fraction of an edge's capacity, in [0, 1]")
        self.c = c
        self.vnodes = vnodes
        self.spill_k = spill_k
        self.load_floor = load_floor
        self.default_region = default_region
        self.nearness = tuple(nearness)
        self._c = _fraction(c)
        self._floor = _fraction(load_floor)
        self._preference = {r: tuple(rs) for r, rs in (region_preference or {}).items()}

    def bound(self, total_load: int, edges: int) -> int:
        """Per-edge limit ``ceil(c * (total_load + 1) / edges)`` for a region's candidates."""
        if edges < 1:
            raise ValueError("a bound needs at least one edge")
        return -(-self._c.numerator * (total_load + 1) // (self._c.denominator * edges))

    def under_floor(self, edge: Edge) -> bool:
        """Whether ``edge`` is below its load floor, where the bound does not apply."""
        return edge.load * self._floor.denominator < self._floor.numerator * edge.capacity

    def regions_for(self, region: str, edges: Sequence[Edge] = ()) -> tuple[str, ...]:
        """The regions tried for a client of ``region``, best first (:func:`region_order`)."""
        return region_order(region, edges, self._preference, self.default_region, self.nearness)

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
        avoid: AbstractSet[str] = frozenset(),
    ) -> Placement:
        """Choose the edge for one new connection of ``team_id`` from a client in ``region``.

        ``avoid``: edges this client could not reach (never given back to it). Raises
        ``NoEdgeAvailable`` only when no region has an eligible edge left.
        """
        hot = _warm_for(team_id, warm)
        by_region: dict[str, dict[str, Edge]] = {}
        seen: set[str] = set()
        for edge in edges:
            if edge.id in seen:
                raise ValueError(f"duplicate edge id {edge.id!r}")
            seen.add(edge.id)
            if edge.eligible and edge.id not in avoid:
                by_region.setdefault(edge.region, {})[edge.id] = edge
        usable = [e for region_edges in by_region.values() for e in region_edges.values()]
        tried = self.regions_for(region, usable)
        for candidate_region in tried:
            candidates = by_region.get(candidate_region)
            if not candidates:
                continue
            limit = self.bound(sum(e.load for e in candidates.values()), len(candidates))
            order = self.preference(team_id, candidates, hot)
            for rank, eid in enumerate(order):
                edge = candidates[eid]
                if edge.load < limit or self.under_floor(edge):
                    return Placement(
                        edge_id=eid,
                        region=candidate_region,
                        warm=eid in hot,
                        spilled=rank > 0,
                        failover=candidate_region != region,
                        bound=limit,
                    )
        raise NoEdgeAvailable(team_id, region, tried)
