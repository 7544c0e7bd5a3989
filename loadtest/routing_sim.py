"""Deterministic simulation of placement strategies, for the router benchmark.

It drives the router's pure placement (``router.placement``) with no I/O; it lives with the
load tests, not in the production ``router`` package, because only benchmarks run it
(``loadtest/phases/routing.py``, or ``python -m loadtest.routing_sim``).

W workspaces with Zipf-like sizes (in connections) connect, one connection at a time in a seeded
random interleaving, to N edges of one region. Each strategy is scored on:

- ``max_over_mean``: the busiest edge's connections over the mean, after everyone connected;
- ``moved_per_change_x_n``: an edge joins (then, separately, a random edge leaves) and every client
  reconnects in the same order; the share of workspaces whose home edge (the edge of its first
  connection) changed, times the number of edges (N + 1 after a join, N before a leave), averaged
  over the two changes. Consistent hashing is ideally 1; reassigning at random is about N;
- ``warm_share``: during the reconnect after the join, the share of connections that land on an
  edge already holding their workspace (held before the join, or loaded earlier in the reconnect,
  as the shared registry would say);
- ``edges_per_workspace``: mean number of edges holding a workspace after everyone connected,
  what a workspace costs in cache memory and snapshot loads.

Strategies: ``random`` (any edge), ``hash`` (plain consistent hashing), ``bounded`` (bounded loads,
ignoring the registry) and ``bounded_warm`` (``Placer`` with the registry). Both bounded ones use
the router's load floor, on edges whose capacity is twice the final mean (the fleet half full:
"real loads"). Everything is seeded: the same arguments give the same numbers on every run and
machine.

:func:`idle_spread` is the other end of the scale: how many edges one workspace's first
connections take on idle edges (the floor keeps them on one; without it the bound, 1 or 2 at
tiny loads, splits them).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

from router.placement import (
    DEFAULT_C,
    DEFAULT_LOAD_FLOOR,
    DEFAULT_SPILL_K,
    DEFAULT_VNODES,
    Edge,
    Placer,
    ring_order,
)

__all__ = ["METRICS", "STRATEGIES", "format_table", "idle_spread", "main", "simulate", "zipf_sizes"]

STRATEGIES = ("random", "hash", "bounded", "bounded_warm")
METRICS = ("max_over_mean", "moved_per_change_x_n", "warm_share", "edges_per_workspace")
_REGION = "sim"

#: (team id, edges with current loads, edges warm for the team, rng) -> chosen edge id
Strategy = Callable[[str, Sequence[Edge], AbstractSet[str], random.Random], str]


def zipf_sizes(count: int, largest: int, exponent: float = 1.1) -> list[int]:
    """Connections per workspace, largest first: ``max(1, round(largest / rank ** exponent))``."""
    return [max(1, round(largest / rank**exponent)) for rank in range(1, count + 1)]


def _strategies(placer: Placer) -> dict[str, Strategy]:
    def random_edge(team: str, edges: Sequence[Edge], warm: AbstractSet[str], rng: random.Random) -> str:
        return edges[rng.randrange(len(edges))].id

    def hashed(team: str, edges: Sequence[Edge], warm: AbstractSet[str], rng: random.Random) -> str:
        return ring_order(team, (e.id for e in edges), placer.vnodes)[0]

    def bounded(team: str, edges: Sequence[Edge], warm: AbstractSet[str], rng: random.Random) -> str:
        return placer.place(team, _REGION, edges).edge_id

    def bounded_warm(team: str, edges: Sequence[Edge], warm: AbstractSet[str], rng: random.Random) -> str:
        return placer.place(team, _REGION, edges, warm).edge_id

    return {"random": random_edge, "hash": hashed, "bounded": bounded, "bounded_warm": bounded_warm}


@dataclass
class _Run:
    """The outcome of one wave of connections over a fixed set of edges."""

    loads: dict[str, int]
    homes: dict[str, str] = field(default_factory=dict)
    registry: dict[str, set[str]] = field(default_factory=dict)
    warm_hits: int = 0


def _run(
    strategy: Strategy,
    connects: Sequence[str],
    edge_ids: Sequence[str],
    registry: Mapping[str, AbstractSet[str]],
    rng: random.Random,
    capacity: int,
) -> _Run:
    """Connect everyone from zero load; the registry starts as given and records each choice."""
    edges = [Edge(eid, _REGION, 0, capacity) for eid in edge_ids]
    index = {eid: i for i, eid in enumerate(edge_ids)}
    run = _Run(
        loads=dict.fromkeys(edge_ids, 0),
        registry={team: set(held) & set(edge_ids) for team, held in registry.items()},
    )
    for team in connects:
        held = run.registry.setdefault(team, set())
        eid = strategy(team, edges, held, rng)
        run.warm_hits += eid in held
        held.add(eid)
        run.homes.setdefault(team, eid)
        run.loads[eid] += 1
        i = index[eid]
        edges[i] = replace(edges[i], load=edges[i].load + 1)
    return run


def _wave_rng(seed: int, strategy: str, phase: str) -> random.Random:
    """A fresh rng per wave: one shared stream would redraw the same edges and look sticky."""
    return random.Random(f"flannel-sim:{seed}:{strategy}:{phase}")


def _moved(before: Mapping[str, str], after: Mapping[str, str]) -> float:
    return sum(before[team] != after[team] for team in before) / len(before)


def simulate(
    strategies: Sequence[str] = STRATEGIES,
    workspaces: int = 1000,
    edges: int = 10,
    seed: int = 0,
    *,
    c: float = DEFAULT_C,
    spill_k: int = DEFAULT_SPILL_K,
    vnodes: int = DEFAULT_VNODES,
    largest: int | None = None,
    exponent: float = 1.1,
    load_floor: float = DEFAULT_LOAD_FLOOR,
    capacity: int | None = None,
) -> dict[str, dict[str, float]]:
    """Score each strategy (see the module docstring).

    ``largest`` (connections of the biggest workspace) defaults to ``2 * workspaces``, which with
    the default exponent gives it roughly a fifth of all connections: more than one edge's bound.
    ``capacity`` (per edge) defaults to twice the mean load once everyone connected; it never
    binds (the bound is below it) but sets where the load floor lies.
    """
    if workspaces < 1 or edges < 2:
        raise ValueError("need at least one workspace and two edges")
    table = _strategies(Placer(c=c, vnodes=vnodes, spill_k=spill_k, load_floor=load_floor))
    unknown = [name for name in strategies if name not in table]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; known: {', '.join(STRATEGIES)}")

    rng = random.Random(f"flannel-sim:{seed}")
    teams = [f"T{rng.getrandbits(48):012x}" for _ in range(workspaces)]
    sizes = zipf_sizes(workspaces, largest or 2 * workspaces, exponent)
    connects = [team for team, size in zip(teams, sizes, strict=True) for _ in range(size)]
    rng.shuffle(connects)
    room = capacity or -(-2 * len(connects) // edges)
    edge_ids = [f"edge-{i:03d}" for i in range(edges)]
    joined = [*edge_ids, f"edge-{edges:03d}"]
    gone = rng.choice(edge_ids)
    left = [eid for eid in edge_ids if eid != gone]

    results: dict[str, dict[str, float]] = {}
    for name in strategies:
        strategy = table[name]
        base = _run(strategy, connects, edge_ids, {}, _wave_rng(seed, name, "base"), room)
        join = _run(strategy, connects, joined, base.registry, _wave_rng(seed, name, "join"), room)
        leave = _run(strategy, connects, left, base.registry, _wave_rng(seed, name, "leave"), room)
        loads = base.loads.values()
        moved_join = _moved(base.homes, join.homes) * len(joined)
        moved_leave = _moved(base.homes, leave.homes) * len(edge_ids)
        results[name] = {
            "max_over_mean": max(loads) / (sum(loads) / len(edge_ids)),
            "moved_per_change_x_n": (moved_join + moved_leave) / 2,
            "warm_share": join.warm_hits / len(connects),
            "edges_per_workspace": sum(map(len, base.registry.values())) / workspaces,
        }
    return results


def idle_spread(
    connections: int = 50,
    edges: int = 10,
    capacity: int = 10_000,
    *,
    c: float = DEFAULT_C,
    load_floor: float = DEFAULT_LOAD_FLOOR,
) -> int:
    """Edges holding one workspace after its first ``connections`` on ``edges`` idle edges of
    ``capacity`` each (the edge's default), placed by ``Placer`` with the registry."""
    placer = Placer(c=c, load_floor=load_floor)
    fleet = [Edge(f"edge-{i:03d}", _REGION, 0, capacity) for i in range(edges)]
    held: set[str] = set()
    for _ in range(connections):
        eid = placer.place("T-first", _REGION, fleet, held).edge_id
        held.add(eid)
        fleet = [replace(e, load=e.load + 1) if e.id == eid else e for e in fleet]
    return len(held)


def format_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A fixed-width table, one row per strategy."""
    header = f"{'strategy':<14}" + "".join(f"{m:>22}" for m in METRICS)
    rows = [
        f"{name:<14}" + "".join(f"{metrics[m]:>22.3f}" for m in METRICS) for name, metrics in results.items()
    ]
    return "\n".join([header, *rows])


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m loadtest.routing_sim [--workspaces W] [--edges N] [--seed S] ...``"""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--edges", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument("--spill-k", type=int, default=DEFAULT_SPILL_K)
    parser.add_argument("--vnodes", type=int, default=DEFAULT_VNODES)
    parser.add_argument("--largest", type=int, default=None, help="connections of the biggest")
    parser.add_argument("--exponent", type=float, default=1.1, help="Zipf exponent of sizes")
    parser.add_argument("--load-floor", type=float, default=DEFAULT_LOAD_FLOOR)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    args = parser.parse_args(argv)
    results = simulate(
        args.strategies,
        workspaces=args.workspaces,
        edges=args.edges,
        seed=args.seed,
        c=args.c,
        spill_k=args.spill_k,
        vnodes=args.vnodes,
        largest=args.largest,
        exponent=args.exponent,
        load_floor=args.load_floor,
    )
    print(format_table(results))
    spread = idle_spread(edges=args.edges, load_floor=args.load_floor)
    print(f"edges holding a workspace after its first 50 connections on idle edges: {spread}")


if __name__ == "__main__":
    main()
