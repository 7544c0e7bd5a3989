"""The edge's configuration (filled from flags with environment fallbacks by the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wire.ratelimit import DEFAULT_TIERS


@dataclass
class EdgeSettings:
    edge_id: str = "edge-1"
    region: str = "local"
    host: str = "127.0.0.1"
    port: int = 8100
    origin_url: str = "http://127.0.0.1:8000"
    redis_url: str | None = None
    redis_prefix: str = "flannel:"
    secret: str = "dev-secret-change-me"
    cache_mb: float = 512.0
    token_ttl_s: float = 30.0
    regional_snapshot_ttl_s: int = 300
    max_frame_bytes: int = 64 * 1024
    send_queue: int = 1000
    write_stall_s: float = 5.0  # a write pending this long drops the connection (4008)
    client_frames_per_s: float = 20.0
    ping_interval_s: float = 20.0
    drain_window_s: float = 10.0
    deflate: bool = False
    public_url: str | None = None
    capacity: int = 10_000  # live sessions at most; routers send no more
    heartbeat_s: float = 2.0  # registry heartbeat; the record expires after three
    gc_freeze: bool = True  # gc.freeze() after each workspace load (flannel.gcstats)
    # Per-token calls per minute by tier, as at the origin (wire.ratelimit), for every method
    # the edge answers or forwards.
    rate_limits: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_TIERS))

    @property
    def http_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/rtm"
