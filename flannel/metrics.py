"""The edge's Prometheus metrics (own registry): Web API calls, and cache, connection and
log figures read from the running edge at scrape time.

Labels never come straight from a request: a method name is a label only when the edge holds
the method or the origin answered it as one of its own (anything but ``unknown_method``), and
the names learned that way are bounded. Every other name is counted as ``unknown``, so a
client calling ``/api/<random>`` cannot grow the metrics (each label set is a series kept
forever).

Calls are tallied in plain numbers (:class:`CallTally`: a dict lookup, a bisect and two
additions per call) and exposed at scrape time as the counter ``flannel_edge_requests`` and
the histogram ``flannel_edge_request_seconds``, as prometheus_client's own would be (no lock,
no child object per call).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from flannel.edge import Edge

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class EdgeCollector(Collector):
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.log_lag = 0  # refreshed by the /metrics handler (it needs the log, which is async)

    def collect(self) -> Iterator[Metric]:
        edge, stats = self.edge, self.edge.cache.stats
        yield GaugeMetricFamily("flannel_edge_connections", "live WebSocket sessions", value=len(edge.fanout))
        yield GaugeMetricFamily(
            "flannel_edge_cache_workspaces", "workspaces in memory", value=len(edge.cache.loaded())
        )
        yield GaugeMetricFamily(
            "flannel_edge_cache_bytes",
            "estimated bytes of the workspace cache",
            value=edge.cache.total_bytes(),
        )
        lookups = CounterMetricFamily("flannel_edge_cache_lookups", "workspace lookups", labels=["outcome"])
        lookups.add_metric(["hit"], stats.hits)
        lookups.add_metric(["miss"], stats.misses)
        yield lookups
        yield CounterMetricFamily("flannel_edge_cache_evictions", "workspaces evicted", value=stats.evictions)
        yield CounterMetricFamily(
            "flannel_edge_cache_resyncs", "reloads after a gap or too-old offset", value=stats.resyncs
        )
        loads = CounterMetricFamily(
            "flannel_edge_snapshot_loads", "snapshot loads by source", labels=["source"]
        )
        loads.add_metric(["origin"], edge.regional.origin_loads)
        loads.add_metric(["regional"], edge.regional.regional_hits)
        yield loads
        yield GaugeMetricFamily(
            "flannel_edge_log_lag", "change-log events not yet applied, all workspaces", value=self.log_lag
        )


UNKNOWN = "unknown"
#: At most this many method names learned from the origin's answers (it has fewer methods).
MAX_LEARNED = 512


class MethodLabels:
    """The label a called method name is counted under: bounded whatever clients send."""

    def __init__(self, known: Iterable[str], max_learned: int = MAX_LEARNED) -> None:
        self._known = set(known)
        self._room = max_learned

    def __call__(self, name: str, recognized: bool) -> str:
        """``recognized``: the origin answered ``name`` as a method of its own."""
        if name in self._known:
            return name
        if recognized and self._room > 0:
            self._room -= 1
            self._known.add(name)
            return name
        return UNKNOWN


class CallTally(Collector):
    """Web API calls by (method, error) and their latency by method, in plain numbers."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(sorted(buckets))
        self.counts: dict[tuple[str, str], int] = {}
        # Per method: [count in each bucket (non-cumulative; the last is +Inf), sum of seconds].
        self.latency: dict[str, tuple[list[int], list[float]]] = {}
        self.created: dict[tuple[str, str], float] = {}  # a counter's ``_created``

    def declare(self, method: str, error: str = "") -> None:
        """Expose the label set at zero until it is first counted (as a bound child is)."""
        key = (method, error)
        if key not in self.counts:
            self.counts[key] = 0
            self.created[key] = time.time()
        if method not in self.latency:
            self.latency[method] = ([0] * (len(self.bounds) + 1), [0.0])

    def observe(self, method: str, error: str, seconds: float) -> None:
        key = (method, error)
        counts = self.counts
        if key in counts:
            counts[key] += 1
        else:
            self.declare(method, error)
            counts[key] = 1
        buckets, total = self.latency[method]
        buckets[bisect_left(self.bounds, seconds)] += 1  # a bucket holds values <= its bound
        total[0] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "flannel_edge_requests", "Web API calls by method and error code", labels=["method", "error"]
        )
        for (method, error), n in list(self.counts.items()):
            requests.add_metric([method, error], n, created=self.created.get((method, error)))
        yield requests
        latency = HistogramMetricFamily(
            "flannel_edge_request_seconds", "Web API call latency", labels=["method"]
        )
        les = [*(_le(b) for b in self.bounds), "+Inf"]
        for method, (buckets, total) in list(self.latency.items()):
            cumulative, running = [], 0
            for le, n in zip(les, buckets, strict=True):
                running += n
                cumulative.append((le, float(running)))
            latency.add_metric([method], cumulative, total[0])
        yield latency


#: A bucket's ``le`` label, written as prometheus_client writes it.
_le = cast(Callable[[float], str], floatToGoString)


class EdgeMetrics:
    def __init__(self, edge: Edge, known_methods: Iterable[str] = ()) -> None:
        known = tuple(known_methods)
        self.registry = CollectorRegistry()
        self.collector = EdgeCollector(edge)
        self.registry.register(self.collector)
        self.calls = CallTally()
        self.registry.register(self.calls)
        self.label = MethodLabels(known)
        for method in known:
            self.calls.declare(method)

    def observe(self, method: str, error: str | None, seconds: float, recognized: bool = False) -> None:
        """One call of ``method`` (as the client named it) that failed with ``error``."""
        self.calls.observe(self.label(method, recognized), error or "", seconds)

    async def render(self) -> bytes:
        edge = self.collector.edge
        lag = 0
        for team_id in edge.cache.loaded():
            offset = edge.cache.offset(team_id)
            if offset is not None:
                try:
                    lag += max(0, await edge.changelog.last_offset(team_id) - offset)
                except Exception:  # the log is unreachable: report what we have
                    break
        self.collector.log_lag = lag
        return generate_latest(self.registry)
