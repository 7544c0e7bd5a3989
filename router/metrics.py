"""The router's Prometheus metrics, read from its counters at scrape time (own registry)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from router.service import Router


class RouterCollector(Collector):
    def __init__(self, router: Router) -> None:
        self.router = router
        self.edges: list[tuple[str, str, int, bool]] = []  # refreshed by the /metrics handler

    def collect(self) -> Iterator[Metric]:
        c = self.router.counters
        for name, value, doc in (
            ("placements", c.placements, "sessions placed on an edge"),
            ("warm_hits", c.warm_hits, "placements on an edge already warm for the workspace"),
            ("spill_overs", c.spill_overs, "placements beyond a workspace's preferred edge"),
            ("failovers", c.failovers, "placements in another region than the client's"),
            (
                "failed_edge_reports",
                c.failed_edge_reports,
                "connects naming an edge the client could not reach",
            ),
        ):
            yield CounterMetricFamily(f"flannel_router_{name}", doc, value=value)
        rejected = CounterMetricFamily(
            "flannel_router_rejections", "refused connects by error code", labels=["error"]
        )
        for code, count in sorted(c.rejected.items()):
            rejected.add_metric([code], count)
        yield rejected
        tokens = CounterMetricFamily(
            "flannel_router_token_cache", "token checks by cache outcome", labels=["outcome"]
        )
        tokens.add_metric(["hit"], self.router.tokens.hits)
        tokens.add_metric(["miss"], self.router.tokens.misses)
        yield tokens
        edges = GaugeMetricFamily(
            "flannel_router_edge_connections",
            "live connections per registered edge",
            labels=["edge", "region", "draining"],
        )
        for edge_id, region, connections, draining in self.edges:
            edges.add_metric([edge_id, region, str(draining).lower()], connections)
        yield edges


class RouterMetrics:
    def __init__(self, router: Router) -> None:
        self.registry = CollectorRegistry()
        self.collector = RouterCollector(router)
        self.registry.register(self.collector)

    async def render(self) -> bytes:
        stats = await self.collector.router.stats()
        self.collector.edges = [
            (e["id"], e["region"], e["connections"], e["draining"]) for e in stats["edges"]
        ]
        return generate_latest(self.registry)
