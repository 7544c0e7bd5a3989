"""Failed-edge reports: distinct reporters, a late heartbeat, a newer heartbeat, the window."""

from __future__ import annotations

from typing import Any

import pytest

from router.reports import MAX_REPORTERS, EdgeReports, ReportPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reports(**policy: Any) -> tuple[EdgeReports, Clock]:
    clock = Clock()
    return EdgeReports(ReportPolicy(**policy), clock=clock), clock


def test_several_distinct_clients_suspend_an_edge_until_it_heartbeats_again() -> None:
    edge, clock = reports(reporters=3)
    beat = clock.now - 0.5  # fresh: beats every 2 s
    edge.report("e1", "T:U1")
    edge.report("e1", "T:U1")  # the same client twice is one reporter
    edge.report("e1", "T:U2")
    assert edge.recent("e1", beat) == 2 and not edge.suspended("e1", beat, 2.0)
    edge.report("e1", "T:U3")
    assert edge.suspended("e1", beat, 2.0) and not edge.suspended("e2", beat, 2.0)
    clock.now += 0.1
    assert not edge.suspended("e1", clock.now, 2.0)  # a newer heartbeat: all reports void


def test_one_report_suffices_when_the_heartbeat_is_late() -> None:
    edge, clock = reports(reporters=3, late_beats=1.5)
    beat = clock.now - 2.0
    edge.report("e1", "T:U1")
    assert not edge.suspended("e1", beat, 2.0)  # 2 s of a 2 s beat: on time
    clock.now += 1.5  # 3.5 s > 1.5 beats
    assert edge.suspended("e1", beat, 2.0)
    assert not edge.suspended("e1", beat, 0.0)  # an edge that does not say its beat is never late
    assert not edge.suspended("e2", beat, 2.0)  # late alone is not enough: the TTL handles that


def test_reports_expire_and_gone_edges_are_forgotten() -> None:
    edge, clock = reports(reporters=1, window_s=10)
    edge.report("e1", "T:U1")
    edge.report("e2", "T:U1")
    assert edge.suspended("e1", 0.0, 2.0)
    clock.now += 10
    assert not edge.suspended("e1", 0.0, 2.0)
    edge.forget({"e1"})
    assert edge.recent("e2", 0.0) == 0


def test_a_report_flood_is_bounded() -> None:
    edge, _ = reports()
    for i in range(MAX_REPORTERS * 3):
        edge.report("e1", f"T:U{i}")
    assert edge.recent("e1", 0.0) == MAX_REPORTERS


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError):
        ReportPolicy(reporters=0)
    with pytest.raises(ValueError):
        ReportPolicy(window_s=0)
