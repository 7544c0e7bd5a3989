"""The placement simulation: deterministic, and it tells the strategies apart the expected way."""

from __future__ import annotations

import math

import pytest

from loadtest.routing_sim import METRICS, STRATEGIES, format_table, idle_spread, main, simulate, zipf_sizes

W, N = 300, 8


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, float]]:
    return simulate(workspaces=W, edges=N, seed=0)


def test_same_seed_same_numbers(results: dict[str, dict[str, float]]) -> None:
    assert simulate(workspaces=W, edges=N, seed=0) == results
    assert simulate(workspaces=W, edges=N, seed=1) != results
    assert list(results) == list(STRATEGIES)
    assert all(list(metrics) == list(METRICS) for metrics in results.values())


def test_bounded_strategies_respect_the_bound(results: dict[str, dict[str, float]]) -> None:
    total = sum(zipf_sizes(W, 2 * W))
    limit = math.ceil(1.25 * total / N) / (total / N)  # ceil(c * mean) / mean
    for name in ("bounded", "bounded_warm"):
        assert results[name]["max_over_mean"] <= min(limit, 1.25)  # the load floor changes nothing
    assert results["hash"]["max_over_mean"] > 1.5 > results["random"]["max_over_mean"]


def test_a_workspaces_first_connections_on_idle_edges_stay_on_one_edge() -> None:
    assert idle_spread(connections=50, edges=N) == 1
    assert idle_spread(connections=50, edges=2) == 1
    assert idle_spread(connections=50, edges=N, load_floor=0.0) > 1  # the bound alone splits it
    assert idle_spread(connections=10, edges=2, load_floor=0.0) == 2


def test_the_load_floor_costs_nothing_at_real_loads(results: dict[str, dict[str, float]]) -> None:
    without = simulate(["bounded_warm"], workspaces=W, edges=N, seed=0, load_floor=0.0)["bounded_warm"]
    floored = results["bounded_warm"]
    assert floored["max_over_mean"] <= 1.25 and floored["warm_share"] >= without["warm_share"] - 0.01
    assert floored["edges_per_workspace"] <= without["edges_per_workspace"]


def test_consistent_hashing_moves_about_one_nth(results: dict[str, dict[str, float]]) -> None:
    assert 0.5 < results["hash"]["moved_per_change_x_n"] < 1.5
    assert results["random"]["moved_per_change_x_n"] > N / 2
    assert results["bounded_warm"]["moved_per_change_x_n"] < results["bounded"]["moved_per_change_x_n"]


def test_warm_awareness_pays(results: dict[str, dict[str, float]]) -> None:
    warm = {name: metrics["warm_share"] for name, metrics in results.items()}
    assert warm["bounded_warm"] > warm["bounded"] > warm["random"]
    spread = {name: metrics["edges_per_workspace"] for name, metrics in results.items()}
    assert spread["hash"] == 1.0
    assert 1.0 <= spread["bounded_warm"] < spread["bounded"] < spread["random"]


def test_zipf_sizes_are_skewed() -> None:
    assert zipf_sizes(5, 100, 1.0) == [100, 50, 33, 25, 20]
    assert zipf_sizes(3, 1, 2.0) == [1, 1, 1]


def test_subset_and_unknown_strategies() -> None:
    assert list(simulate(["hash"], workspaces=20, edges=3)) == ["hash"]
    with pytest.raises(ValueError, match="unknown"):
        simulate(["round_robin"], workspaces=20, edges=3)
    with pytest.raises(ValueError):
        simulate(workspaces=20, edges=1)


def test_main_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--workspaces", "40", "--edges", "4", "--strategies", "hash", "bounded_warm"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["strategy", *METRICS]
    assert [line.split()[0] for line in out[1:3]] == ["hash", "bounded_warm"]
    assert out[3].endswith("on idle edges: 1")
    assert format_table({}) == out[0]
