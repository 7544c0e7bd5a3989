"""Properties of the router's placement: bounded loads, stability, warmth, spill-over, failover."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from router.placement import (
    Edge,
    NoEdgeAvailable,
    Placement,
    Placer,
    Reason,
    ring_order,
    stable_hash,
)

FAST = settings(max_examples=40, deadline=None)
SLOW = settings(max_examples=12, deadline=None)

edge_names = st.from_regex(r"[a-z][a-z0-9-]{0,7}", fullmatch=True)
edge_sets = st.lists(edge_names, min_size=1, max_size=10, unique=True)
team_ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
factors = st.sampled_from(["1", "1.1", "1.25", "1.5", "2"])


def edges_of(ids: list[str], load: int = 0, region: str = "us") -> list[Edge]:
    return [Edge(eid, region, load, 10**9) for eid in ids]


def ceil_c_mean(c: str, total: int, n: int) -> int:
    return math.ceil(Fraction(c) * total / n)


def bump(edges: list[Edge], edge_id: str) -> list[Edge]:
    return [replace(e, load=e.load + 1) if e.id == edge_id else e for e in edges]


# -- bounded loads ------------------------------------------------------------------------------


@FAST
@given(
    ids=st.lists(edge_names, min_size=2, max_size=8, unique=True),
    c=factors,
    spill_k=st.integers(1, 4),
    connects=st.lists(st.integers(0, 15), min_size=1, max_size=250),
    record_warm=st.booleans(),
)
def test_no_edge_exceeds_ceil_c_mean_when_placing_one_by_one(
    ids: list[str], c: str, spill_k: int, connects: list[int], record_warm: bool
) -> None:
    placer = Placer(c=float(c), spill_k=spill_k)
    edges = edges_of(ids)
    registry: dict[str, set[str]] = {}
    for n, team_no in enumerate(connects, start=1):
        team = f"team-{team_no}"
        placement = placer.place(team, "us", edges, registry if record_warm else frozenset())
        assert placement.bound == ceil_c_mean(c, n, len(ids))
        edges = bump(edges, placement.edge_id)
        registry.setdefault(team, set()).add(placement.edge_id)
        assert max(e.load for e in edges) <= ceil_c_mean(c, n, len(ids))


def test_bound_uses_exact_fractions() -> None:
    # 1.1 * 10 / 11 is 1 exactly; float arithmetic would round it up to 2
    assert Placer(c=1.1).bound(total_load=9, edges=11) == 1
    assert Placer(c=1.25).bound(total_load=0, edges=10) == 1
    assert Placer(c=1.25).bound(total_load=99, edges=10) == 13


# -- stability ----------------------------------------------------------------------------------


@FAST
@given(
    team=team_ids,
    ids=edge_sets,
    loads=st.lists(st.integers(0, 50), min_size=10, max_size=10),
    warm_mask=st.lists(st.booleans(), min_size=10, max_size=10),
    seed=st.integers(0, 2**32),
)
def test_same_inputs_same_edge_whatever_the_order_or_instance(
    team: str, ids: list[str], loads: list[int], warm_mask: list[bool], seed: int
) -> None:
    edges = [Edge(eid, "us", load, 10**9) for eid, load in zip(ids, loads, strict=False)]
    warm = {eid for eid, hot in zip(ids, warm_mask, strict=False) if hot}
    first = Placer().place(team, "us", edges, warm)
    shuffled = list(edges)
    random.Random(seed).shuffle(shuffled)
    assert Placer().place(team, "us", shuffled, warm) == first
    assert Placer().place(team, "us", edges, {team: warm, "other": set(ids)}) == first
    assert Placer().place(team, "us", list(reversed(edges)), frozenset(warm)) == first


def test_hash_is_pinned_across_processes_and_versions() -> None:
    # Routers of different versions must agree during a rolling deploy: never change these.
    assert stable_hash("T024") == 12560917138885620560
    assert stable_hash("") == 16476032584258269876
    assert ring_order("T024", ["edge-a", "edge-b", "edge-c", "edge-d"]) == (
        "edge-d",
        "edge-a",
        "edge-b",
        "edge-c",
    )
    assert ring_order("acme", ["us-3", "us-1", "us-2"]) == ("us-3", "us-2", "us-1")


# -- movement when an edge joins or leaves --------------------------------------------------------

KEYS = [f"team-{i}" for i in range(1000)]
VNODES_SIGMA = 1 / math.sqrt(160)  # relative std of one edge's share of the ring


def movement_allowance(n: int) -> float:
    """1.2/N, plus 4 sigma of the ring-share spread of 160 vnodes and of sampling len(KEYS) keys.

    A single edge may own up to ~1.3/N of the ring with 160 vnodes (measured over random edge
    sets), so a per-instance bound of exactly 1.2/N would be flaky; the average is checked
    against 1.2/N without slack in ``test_average_movement_is_about_one_over_n``.
    """
    return (1.2 + 4 * VNODES_SIGMA) / n + 4 * math.sqrt(1 / n / len(KEYS))


def assign(placer: Placer, ids: list[str], warm: dict[str, set[str]] | None = None) -> dict[str, str]:
    # every edge at the same modest load: far under the bound, so only the ring decides
    edges = edges_of(ids, load=100)
    return {key: placer.place(key, "us", edges, warm or frozenset()).edge_id for key in KEYS}


@SLOW
@given(ids=st.lists(edge_names, min_size=3, max_size=12, unique=True), data=st.data())
def test_removing_an_edge_moves_only_its_workspaces(ids: list[str], data: st.DataObject) -> None:
    gone = data.draw(st.sampled_from(ids))
    placer = Placer()
    before = assign(placer, ids)
    after = assign(placer, [eid for eid in ids if eid != gone])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert moved == {key for key in KEYS if before[key] == gone}
    assert len(moved) / len(KEYS) <= movement_allowance(len(ids))


@SLOW
@given(ids=st.lists(edge_names, min_size=2, max_size=11, unique=True), new=edge_names)
def test_adding_an_edge_moves_workspaces_only_onto_it(ids: list[str], new: str) -> None:
    assume(new not in ids)
    placer = Placer()
    before = assign(placer, ids)
    after = assign(placer, [*ids, new])
    moved = {key for key in KEYS if before[key] != after[key]}
    assert all(after[key] == new for key in moved)
    assert len(moved) / len(KEYS) <= movement_allowance(len(ids) + 1)


@SLOW
@given(ids=st.lists(edge_names, min_size=2, max_size=11, unique=True), new=edge_names)
def test_adding_an_edge_does_not_turn_warm_workspaces_cold(ids: list[str], new: str) -> None:
    assume(new not in ids)
    placer = Placer()
    before = assign(placer, ids)
    after = assign(placer, [*ids, new], warm={key: {edge} for key, edge in before.items()})
    assert after == before


def test_average_movement_is_about_one_over_n() -> None:
    placer = Placer()
    ratios = []
    for n in range(3, 13):
        ids = [f"edge-{n}-{i}" for i in range(n)]
        before = assign(placer, ids)
        grown = assign(placer, [*ids, f"edge-{n}-new"])
        shrunk = assign(placer, ids[1:])
        ratios.append(sum(before[k] != grown[k] for k in KEYS) / len(KEYS) * (n + 1))
        ratios.append(sum(before[k] != shrunk[k] for k in KEYS) / len(KEYS) * n)
    assert sum(ratios) / len(ratios) <= 1.2


# -- eligibility and failover -------------------------------------------------------------------

REGIONS = ["us", "eu", "ap"]
PREFERENCE = {"us": ["us", "eu", "ap"], "eu": ["eu", "us"], "ap": ["ap", "eu", "us"]}

random_edges = st.lists(
    st.builds(
        Edge,
        id=edge_names,
        region=st.sampled_from(REGIONS),
        load=st.integers(0, 20),
        capacity=st.integers(0, 25),
        draining=st.booleans(),
        healthy=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda e: e.id,
)


def eligible(edge: Edge) -> bool:
    return edge.healthy and not edge.draining and edge.load < edge.capacity


@FAST
@given(team=team_ids, region=st.sampled_from([*REGIONS, "local"]), edges=random_edges)
def test_placed_whenever_any_edge_is_eligible_preference_order_first(
    team: str, region: str, edges: list[Edge]
) -> None:
    placer = Placer(region_preference=PREFERENCE)
    alive = [e for e in edges if eligible(e)]
    if not alive:
        with pytest.raises(NoEdgeAvailable):
            placer.place(team, region, edges)
        return
    placement = placer.place(team, region, edges)
    chosen = next(e for e in edges if e.id == placement.edge_id)
    assert eligible(chosen)
    declared = [r for r in (region, *PREFERENCE.get(region, ())) if any(e.region == r for e in alive)]
    if declared:  # the first region of the preference that has an eligible edge
        assert placement.region == chosen.region == declared[0]
    assert placement.failover == (chosen.region != region)
    assert (placement.reason is Reason.FAILOVER) == placement.failover


def test_a_region_with_no_edges_fails_over_to_any_region_with_one() -> None:
    """The bug: a router with defaults (region ``local``), edges only in ``us``."""
    placement = Placer(default_region="local").place("T1", "local", edges_of(["a", "b"], region="us"))
    assert placement.region == "us" and placement.failover and placement.reason is Reason.FAILOVER
    with pytest.raises(NoEdgeAvailable, match="'sa'"):  # none alive at all
        Placer().place("T1", "sa", [Edge("a", "us", 0, 5, draining=True), Edge("b", "eu", 5, 5)])


def test_failover_order_preference_then_default_then_declared_then_least_utilised() -> None:
    edges = [
        Edge("us-1", "us", 50, 100),
        Edge("eu-1", "eu", 10, 100),
        Edge("ap-1", "ap", 90, 100),
        Edge("sa-1", "sa", 30, 100),
        Edge("af-1", "af", 20, 100),
        Edge("af-2", "af", 0, 0),  # full: not counted in af's utilisation
    ]
    placer = Placer(region_preference={"us": ["ap"], "xx": []}, default_region="us", nearness=["sa"])
    assert placer.regions_for("us", edges) == ("us", "ap", "sa", "eu", "af")
    assert placer.regions_for("mars", edges) == ("mars", "us", "ap", "sa", "eu", "af")
    assert placer.regions_for("xx", edges) == ("xx", "sa", "eu", "af", "us", "ap")  # declared empty
    gone = [e for e in edges if e.region not in ("us", "ap", "sa")]
    assert placer.place("T1", "us", gone).region == "eu"  # 10% before af's 20%
    assert placer.place("T1", "mars", [*gone, edges[3]]).region == "sa"


def test_an_avoided_edge_is_never_chosen_even_if_it_is_the_only_one() -> None:
    edges = edges_of(["a", "b"])
    first = Placer().place("T1", "us", edges).edge_id
    other = Placer().place("T1", "us", edges, avoid={first})
    assert other.edge_id != first and other.spilled is False
    with pytest.raises(NoEdgeAvailable):
        Placer().place("T1", "us", edges_of([first]), avoid={first})


def test_region_full_at_capacity_fails_over() -> None:
    edges = [Edge("us-1", "us", 5, 5), Edge("eu-1", "eu", 0, 5)]
    placement = Placer(region_preference={"us": ["eu"]}).place("T1", "us", edges)
    assert (placement.edge_id, placement.failover, placement.reason) == ("eu-1", True, "failover")


# -- warm preference and spill-over ---------------------------------------------------------------


@FAST
@given(
    team=team_ids,
    ids=st.lists(edge_names, min_size=1, max_size=10, unique=True),
    loads=st.lists(st.integers(0, 30), min_size=10, max_size=10),
    warm_mask=st.lists(st.booleans(), min_size=10, max_size=10),
    spill_k=st.integers(1, 4),
)
def test_warm_edges_preferred_while_under_the_bound(
    team: str, ids: list[str], loads: list[int], warm_mask: list[bool], spill_k: int
) -> None:
    edges = [Edge(eid, "us", load, 10**9) for eid, load in zip(ids, loads, strict=False)]
    warm = {eid for eid, hot in zip(ids, warm_mask, strict=False) if hot}
    placer = Placer(spill_k=spill_k)
    placement = placer.place(team, "us", edges, warm)
    load = {e.id: e.load for e in edges}
    order = ring_order(team, ids)
    spill_set, beyond = order[:spill_k], order[spill_k:]
    room = {eid for eid in ids if load[eid] < placement.bound}
    assert placement.edge_id in room
    assert placement.warm == (placement.edge_id in warm)
    if warm & room & set(spill_set):  # a warm edge of its own spill set has room: take the first
        assert placement.edge_id == next(e for e in spill_set if e in warm & room)
    elif room & set(spill_set):  # no warm one: the first of the spill set with room
        assert placement.edge_id == next(e for e in spill_set if e in room)
    elif warm & room:  # spill set full: warm edges beyond it before cold ones
        assert placement.edge_id == next(e for e in beyond if e in warm & room)
    else:
        assert placement.edge_id == next(e for e in beyond if e in room)


@FAST
@given(
    ids=st.lists(edge_names, min_size=4, max_size=10, unique=True),
    spill_k=st.integers(1, 4),
    background=st.lists(st.integers(0, 60), min_size=10, max_size=10),
    connects=st.lists(st.integers(0, 3), min_size=1, max_size=300),
)
def test_big_workspace_spills_over_at_most_k_edges_until_they_are_full(
    ids: list[str], spill_k: int, background: list[int], connects: list[int]
) -> None:
    # team-0 is the big one; other teams' connects interleave, on top of a fixed background
    placer = Placer(spill_k=spill_k)
    edges = [Edge(eid, "us", load, 10**9) for eid, load in zip(ids, background, strict=False)]
    registry: dict[str, set[str]] = {}
    spill_set = set(ring_order("team-0", ids)[:spill_k])
    for team_no in [0, *connects]:
        team = f"team-{team_no}"
        placement = placer.place(team, "us", edges, registry)
        if team_no == 0 and placement.edge_id not in spill_set:
            assert all(e.load >= placement.bound for e in edges if e.id in spill_set)
        edges = bump(edges, placement.edge_id)
        registry.setdefault(team, set()).add(placement.edge_id)


def test_big_workspace_fills_its_spill_set_in_ring_order() -> None:
    ids = [f"edge-{i}" for i in range(10)]
    placer = Placer()
    edges = edges_of(ids, load=100)
    registry: dict[str, set[str]] = {}
    placements: list[Placement] = []
    for _ in range(60):  # bound goes from 126 to 133: three edges hold 60 connections
        placement = placer.place("big", "us", edges, registry)
        placements.append(placement)
        edges = bump(edges, placement.edge_id)
        registry.setdefault("big", set()).add(placement.edge_id)
    order = ring_order("big", ids)
    used = list(dict.fromkeys(p.edge_id for p in placements))
    assert used == list(order[: len(used)]) and 1 < len(used) <= 3
    assert placements[0].reason is Reason.COLD and placements[1].reason is Reason.WARM
    spills = [p for p in placements if p.spilled]
    assert spills and spills[0].reason is Reason.SPILL and not spills[0].warm


# -- validation ---------------------------------------------------------------------------------


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        Placer(c=0.9)
    with pytest.raises(ValueError):
        Placer(spill_k=0)
    with pytest.raises(ValueError):
        Placer(load_floor=1.5)
    with pytest.raises(ValueError):
        Edge("", "us", 0, 1)
    with pytest.raises(ValueError):
        Edge("a", "us", -1, 1)
    with pytest.raises(ValueError, match="duplicate"):
        Placer().place("T1", "us", [*edges_of(["a"]), *edges_of(["a"])])
    with pytest.raises(TypeError):
        Placer().place("T1", "us", edges_of(["a"]), "a")  # type: ignore[arg-type]
    with pytest.raises(NoEdgeAvailable):
        Placer().place("T1", "us", [])
