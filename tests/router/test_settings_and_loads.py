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
