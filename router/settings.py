"""The router's configuration (filled from flags with environment fallbacks by the CLI)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from router.placement import DEFAULT_C, DEFAULT_LOAD_FLOOR, DEFAULT_SPILL_K, DEFAULT_VNODES

_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def valid_region(name: str) -> bool:
    """Region names are short identifiers: they end up in keys, logs and metrics."""
    return _REGION.fullmatch(name) is not None


def parse_region_preference(text: str | None) -> dict[str, tuple[str, ...]]:
    """``"us:us,eu;eu:eu,us"`` -> ``{"us": ("us", "eu"), "eu": ("eu", "us")}``.

    A region's own name may be left out of its list: placement always tries it first.
    """
    preference: dict[str, tuple[str, ...]] = {}
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        region, colon, rest = part.partition(":")
        regions = tuple(r.strip() for r in rest.split(",") if r.strip())
        names = (region.strip(), *regions)
        if not colon or not all(valid_region(r) for r in names):
            raise ValueError(f"bad region preference {part!r}: expected REGION:R1,R2,...")
        preference[region.strip()] = regions
    return preference


def parse_regions(text: str | None) -> tuple[str, ...]:
    """``"us, eu,ap"`` -> ``("us", "eu", "ap")``: a declared order of regions."""
    regions = tuple(dict.fromkeys(r.strip() for r in (text or "").split(",") if r.strip()))
    bad = [r for r in regions if not valid_region(r)]
    if bad:
        raise ValueError(f"bad region names {bad}: expected R1,R2,...")
    return regions


@dataclass
class RouterSettings:
    host: str = "127.0.0.1"
    port: int = 8200
    origin_url: str = "http://127.0.0.1:8000"
    redis_url: str | None = None
    redis_prefix: str = "flannel:"
    secret: str = "dev-secret-change-me"
    default_region: str = "local"
    region_preference: dict[str, tuple[str, ...]] = field(default_factory=dict)
    region_order: tuple[str, ...] = ()  # nearness, tried after a region's own preference
    c: float = DEFAULT_C
    load_floor: float = DEFAULT_LOAD_FLOOR  # of an edge's capacity: below it, never over the bound
    vnodes: int = DEFAULT_VNODES
    spill_k: int = DEFAULT_SPILL_K
    ticket_ttl_s: float = 30.0
    token_ttl_s: float = 10.0  # short: a revoked token is refused again within this
    token_failure_ttl_s: float = 5.0  # a refused token is asked again after this
    warm_ttl_s: float = 900.0  # how long an assignment counts as warm without a new connect
    edges_refresh_s: float = 0.25  # edges list read from the registry at most this often
    # An edge is left out while this many distinct clients reported it (one, when its heartbeat
    # is late) since its last heartbeat, within the window.
    failed_edge_reporters: int = 3
    failed_edge_window_s: float = 10.0
    heartbeat_late_beats: float = 1.5
    connects_per_token: float = 30.0  # per minute
    connect_burst_per_token: int = 10
    calls_per_address: float = 600.0  # per minute, rtm.connect and auth.test together
    call_burst_per_address: int = 100

    def __post_init__(self) -> None:
        if not 0 <= self.load_floor <= 1:
            raise ValueError(f"load floor {self.load_floor} is not a fraction of capacity in [0, 1]")
        if self.failed_edge_reporters < 1 or self.failed_edge_window_s <= 0:
            raise ValueError("failed-edge reporters must be >= 1 and their window > 0 s")
