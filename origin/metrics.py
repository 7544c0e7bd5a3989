"""The origin's Prometheus metrics, in a registry of its own (several services may share a
process under ``flannel up``, and each must expose only its own figures)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class OriginMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "flannel_origin_requests",
            "Web API calls by method and error code",
            ["method", "error"],
            registry=r,
        )
        self.latency = Histogram(
            "flannel_origin_request_seconds",
            "Web API call latency",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ratelimited = Counter(
            "flannel_origin_ratelimited", "calls refused with 429", ["method"], registry=r
        )
        self.snapshots = Counter("flannel_origin_snapshots_served", "snapshots streamed to edges", registry=r)
        self.published = Gauge("flannel_origin_relay_published", "events the relay has published", registry=r)
        self.backlog = Gauge("flannel_origin_relay_backlog", "outbox rows not yet published", registry=r)

    def observe(self, method: str, error: str | None, seconds: float) -> None:
        self.requests.labels(method, error or "").inc()
        self.latency.labels(method).observe(seconds)
        if error == "ratelimited":
            self.ratelimited.labels(method).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
