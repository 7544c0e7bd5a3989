"""Region preference parsing, and loads that count what the last heartbeat could not."""

from __future__ import annotations

import pytest

from router.loads import PendingLoads
from router.settings import parse_region_preference, valid_region


def test_region_preference() -> None:
    assert parse_region_preference("us:us,eu; eu:eu,us") == {"us": ("us", "eu"), "eu": ("eu", "us")}
    assert parse_region_preference("ap:us") == {"ap": ("us",)}
    assert parse_region_preference("") == {} and parse_region_preference(None) == {}
    for bad in ("us", "us:eu,b@d", ":eu"):
        with pytest.raises(ValueError):
            parse_region_preference(bad)
    assert valid_region("us-east-1") and not valid_region("") and not valid_region("a b")


def test_pending_loads_count_sessions_sent_after_the_last_report() -> None:
    now = [100.0]
    loads = PendingLoads(horizon_s=60, clock=lambda: now[0])
    loads.add("a")
    now[0] = 101.0
    loads.add("a")
    loads.add("b")
    assert loads.since("a", reported_at=99.0) == 2
    assert loads.since("a", reported_at=100.5) == 1  # the report counted the first one
    now[0] = 200.0
    assert loads.since("b", reported_at=0.0) == 0  # beyond the horizon
    loads.add("c")
    loads.forget({"a"})
    assert loads.since("c", reported_at=0.0) == 0


def test_router_flags_reach_the_settings() -> None:
    from flannel_cli.main import build_parser
    from flannel_cli.router import settings_from

    defaults = settings_from(build_parser().parse_args(["router"]))
    assert (defaults.load_floor, defaults.failed_edge_reporters, defaults.region_order) == (0.02, 3, ())
    args = ["router", "--load-floor", "0.1", "--region-order", "eu, ap", "--failed-edge-reporters", "2"]
    settings = settings_from(build_parser().parse_args([*args, "--failed-edge-window", "4"]))
    assert (settings.load_floor, settings.region_order) == (0.1, ("eu", "ap"))
    assert (settings.failed_edge_reporters, settings.failed_edge_window_s) == (2, 4.0)
    for bad in (["--load-floor", "2"], ["--region-order", "b@d"], ["--failed-edge-reporters", "0"]):
        with pytest.raises(ValueError):
            settings_from(build_parser().parse_args(["router", *bad]))
