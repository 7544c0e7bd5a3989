"""The load floor: idle edges keep a workspace together; above the floor the bound holds."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from router.placement import DEFAULT_LOAD_FLOOR, Edge, Placer
from tests.router.test_placement import FAST, bump, ceil_c_mean, edge_names


def place_all(placer: Placer, team: str, edges: list[Edge], count: int) -> list[str]:
    chosen: list[str] = []
    for _ in range(count):
        eid = placer.place(team, "us", edges, {team: set(chosen)}).edge_id
        chosen.append(eid)
        edges = bump(edges, eid)
    return chosen


def test_idle_edges_do_not_split_a_workspace() -> None:
    """Without a floor the bound ceil(1.25 * (L + 1) / 2) is 1 or 2 at tiny loads."""
    idle = [Edge("a", "us", 0, 10_000), Edge("b", "us", 0, 10_000)]
    assert len(set(place_all(Placer(), "T1", idle, 10))) == 2  # the defect
    floored = Placer(load_floor=DEFAULT_LOAD_FLOOR)
    assert len(set(place_all(floored, "T1", idle, 10))) == 1
    ten = [Edge(f"e{i}", "us", 0, 10_000) for i in range(10)]
    assert len(set(place_all(floored, "T1", ten, 50))) == 1  # a workspace's first 50
    # above the floor (200 of 10,000) the bound protects the edges again
    spread = place_all(floored, "T1", idle, 300)
    assert max(spread.count(e) for e in "ab") == max(200, math.ceil(1.25 * 300 / 2))


@FAST
@given(
    ids=st.lists(edge_names, min_size=2, max_size=6, unique=True),
    floor=st.sampled_from([0.0, 0.01, 0.05, 0.2]),
    capacity=st.integers(10, 400),
    connects=st.lists(st.integers(0, 5), min_size=1, max_size=150),
)
def test_no_edge_exceeds_the_bound_or_its_floor(
    ids: list[str], floor: float, capacity: int, connects: list[int]
) -> None:
    placer = Placer(load_floor=floor)
    edges = [Edge(eid, "us", 0, capacity) for eid in ids]
    total = 0
    for team_no in connects:
        if all(e.load >= e.capacity for e in edges):
            break
        eid = placer.place(f"team-{team_no}", "us", edges).edge_id
        edges = bump(edges, eid)
        total += 1
        limit = max(ceil_c_mean("1.25", total, len(ids)), math.ceil(Fraction(str(floor)) * capacity))
        assert max(e.load for e in edges) <= min(capacity, limit)
