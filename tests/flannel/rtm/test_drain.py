"""The drain schedule: goodbyes spread over the window, deterministic per seed."""

from __future__ import annotations

import pytest

from flannel.rtm.drain import Drainer


def test_drainer_spreads_goodbyes_over_the_window() -> None:
    drainer = Drainer(window_s=10.0, seed=7)
    delays = drainer.delays(1000)
    assert all(0 <= d < 10.0 for d in delays)
    slots = sorted(int(d / 0.01) for d in delays)  # one connection per 10 ms slot
    assert slots == list(range(1000))
    assert delays == Drainer(window_s=10.0, seed=7).delays(1000)  # deterministic
    assert delays != Drainer(window_s=10.0, seed=8).delays(1000)
    assert drainer.delay(3, 1000) == delays[3]
    assert delays[:10] != sorted(delays[:10])  # neighbours are scattered, not in index order


def test_drainer_schedule_and_edges() -> None:
    drainer = Drainer(window_s=2.0)
    plan = drainer.schedule(["a", "b", "c"])
    assert sorted(c for _, c in plan) == ["a", "b", "c"]
    assert [d for d, _ in plan] == sorted(d for d, _ in plan)
    assert drainer.delays(0) == [] and drainer.schedule([]) == []
    assert 0 <= drainer.delay(0, 1) < 2.0
    assert Drainer(window_s=0).delays(3) == [0.0, 0.0, 0.0]
    with pytest.raises(IndexError):
        drainer.delay(3, 3)
