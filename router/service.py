"""What the router does for one connect, apart from HTTP: check, place, record, sign.

The order matters: limits first (cheap, and they shield the origin), then the token (placement
is keyed by its workspace), then placement over the registry's live edges with the warm set
the routers share, and last the signed ticket for the one edge chosen. A client that could not
reach its last edge names it (``failed_edge``): it is not sent back there, and the report
counts towards leaving that edge out for everyone (:mod:`router.reports`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router.loads import PendingLoads
from router.placement import Edge, NoEdgeAvailable, Placement, Placer
from router.ratelimit import RateLimiter
from router.registry import EdgeRecord, Registry, RegistryUnavailable, warm_edges
from router.reports import EdgeReports, ReportPolicy
from router.settings import RouterSettings, valid_region
from router.tokens import Identity, TokenChecker
from wire.errors import RateLimited, SlackError
from wire.offsets import parse_offset
from wire.tickets import issue
from wire.tokens import token_hash

MAX_EDGE_ID = 255
#: Asked with the chosen edge: the offset the connection's ticket resumes from, or None.
Resume = Callable[[EdgeRecord], Awaitable[int | None]]


@dataclass
class Counters:
    """What ``/internal/stats`` reports; ``rejected`` breaks ``rejections`` down by error code."""

    placements: int = 0
    warm_hits: int = 0
    spill_overs: int = 0
    failovers: int = 0
    failed_edge_reports: int = 0
    rejections: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def count(self, placement: Placement) -> None:
        self.placements += 1
        self.warm_hits += placement.warm
        self.spill_overs += placement.spilled
        self.failovers += placement.failover

    def reject(self, code: str) -> None:
        self.rejections += 1
        self.rejected[code] = self.rejected.get(code, 0) + 1


class Router:
    """The router's decisions for ``rtm.connect`` and ``auth.test``, without HTTP.

    Placement is the point: every connection of a workspace should land on an edge that
    already holds it (a cold edge costs the origin a snapshot load), without overloading any
    edge. So the router checks the token (its workspace keys placement), places over the live
    edges of the registry and the warm sets all routers share, records the choice, and signs
    a short-lived ticket for that one edge. Refusals are :class:`SlackError` and counted.
    """

    def __init__(
        self,
        settings: RouterSettings,
        registry: Registry,
        tokens: TokenChecker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.tokens = tokens
        self._clock = clock
        self.placer = Placer(
            settings.c,
            settings.vnodes,
            settings.spill_k,
            settings.region_preference,
            load_floor=settings.load_floor,
            default_region=settings.default_region,
            nearness=settings.region_order,
        )
        self.pending = PendingLoads(clock=clock)
        policy = ReportPolicy(
            settings.failed_edge_reporters, settings.failed_edge_window_s, settings.heartbeat_late_beats
        )
        self.reports = EdgeReports(policy, clock=clock)
        self.by_token = RateLimiter(settings.connects_per_token, settings.connect_burst_per_token)
        self.by_address = RateLimiter(settings.calls_per_address, settings.call_burst_per_address)
        self.counters = Counters()
        # Rewrite a warm mark only when it is this much older than the warm TTL allows.
        self.mark_every_s = min(30.0, settings.warm_ttl_s / 10)

    async def close(self) -> None:
        await self.tokens.close()
        await self.registry.close()

    def _limit(self, limiter: RateLimiter, key: str) -> None:
        wait = limiter.check(key)
        if wait:
            raise RateLimited(wait, f"retry after {wait}s")

    async def auth_test(self, token: str | None, address: str) -> dict[str, Any]:
        self._limit(self.by_address, address)
        return dict((await self.tokens.check(token)).body)

    async def connect(
        self, token: str | None, address: str, args: Mapping[str, Any], resume: Resume | None = None
    ) -> dict[str, Any]:
        """``rtm.connect``: the answer's fields after ``ok``; :class:`SlackError` when refused.

        ``resume``, asked once the edge is chosen, may give the offset the ticket resumes from
        (when ``args`` names none): the page the router serves with the first screen it read
        from that edge resumes where that screen stands (:mod:`router.webclient`)."""
        try:
            return await self._connect(token, address, args, resume)
        except SlackError as exc:
            self.counters.reject(exc.code)
            raise

    async def _connect(
        self, token: str | None, address: str, args: Mapping[str, Any], resume: Resume | None = None
    ) -> dict[str, Any]:
        self._limit(self.by_address, address)
        if token:
            self._limit(self.by_token, token_hash(token))
        resume_from = parse_offset(args.get("resume_from"))
        region = args.get("region") or self.settings.default_region
        if not isinstance(region, str) or not valid_region(region):
            raise SlackError("invalid_arguments", "region must be a short region name")
        failed = args.get("failed_edge") or None
        if failed is not None and (not isinstance(failed, str) or len(failed) > MAX_EDGE_ID):
            raise SlackError("invalid_arguments", "failed_edge must be the id of an edge")
        who = await self.tokens.check(token)
        record, placement = await self.place(who.team_id, region, failed, f"{who.team_id}:{who.user_id}")
        if resume is not None and resume_from is None:
            resume_from = await resume(record)
        ticket = issue(
            self.settings.secret,
            who.user_id,
            who.team_id,
            record.id,
            self.settings.ticket_ttl_s,
            resume_from=resume_from,
            token_hash=who.token_hash,
        )
        return answer(who, record, placement, ticket)

    async def place(
        self, team_id: str, region: str, failed: str | None = None, reporter: str = ""
    ) -> tuple[EdgeRecord, Placement]:
        """Choose and record the edge for one connection of ``team_id`` from ``region``;
        ``failed`` is the edge ``reporter`` could not reach (never chosen for it)."""
        records = await self._records()
        if failed in records:
            self.report(failed, reporter)
        avoid = frozenset({failed}) if failed else frozenset()
        placement, assignments = await self._decide(team_id, region, records, avoid)
        chosen = records[placement.edge_id]
        self.pending.add(chosen.id)
        self.counters.count(placement)
        if not placement.warm or self._clock() - assignments.get(chosen.id, 0.0) >= self.mark_every_s:
            await self.registry.mark_warm(team_id, chosen.id)
        return chosen, placement

    async def edge_for(self, team_id: str, region: str, avoid: frozenset[str] = frozenset()) -> EdgeRecord:
        """The edge a connection of ``team_id`` would be placed on, for a Web API call the
        router forwards: the same choice as :meth:`place`, recorded nowhere (a call is not a
        connection: no pending load, no warm mark, no placement counted)."""
        records = await self._records()
        placement, _ = await self._decide(team_id, region, records, avoid)
        return records[placement.edge_id]

    def report(self, edge_id: str, reporter: str) -> None:
        """``reporter`` could not reach ``edge_id``: it counts towards leaving the edge out."""
        self.reports.report(edge_id, reporter)
        self.counters.failed_edge_reports += 1

    async def _records(self) -> dict[str, EdgeRecord]:
        try:
            records = {r.id: r for r in await self.registry.edges()}
        except RegistryUnavailable as exc:
            raise SlackError("service_unavailable", "the edge registry is unreachable", 503) from exc
        self.pending.forget(set(records))
        self.reports.forget(set(records))
        return records

    async def _decide(
        self, team_id: str, region: str, records: dict[str, EdgeRecord], avoid: frozenset[str]
    ) -> tuple[Placement, dict[str, float]]:
        assignments = await self.registry.warm(team_id)
        warm = warm_edges(assignments, records)
        edges = [self._edge(r) for r in records.values()]
        try:
            return self.placer.place(team_id, region, edges, warm, avoid), assignments
        except NoEdgeAvailable as exc:
            raise SlackError("no_edge_available", str(exc), 503) from exc

    def _edge(self, r: EdgeRecord) -> Edge:
        load = r.connections + self.pending.since(r.id, r.updated)
        healthy = not self.reports.suspended(r.id, r.updated, r.heartbeat_s)
        return Edge(r.id, r.region, load, r.capacity, draining=r.draining, healthy=healthy)

    async def stats(self) -> dict[str, Any]:
        c = self.counters
        try:
            edges = await self.registry.edges()
        except RegistryUnavailable:
            edges = []
        return {
            "placements": c.placements,
            "warm_hits": c.warm_hits,
            "spill_overs": c.spill_overs,
            "failovers": c.failovers,
            "failed_edge_reports": c.failed_edge_reports,
            "rejections": c.rejections,
            "rejected": dict(c.rejected),
            "token_cache": {"hits": self.tokens.hits, "misses": self.tokens.misses},
            "edges": [
                {
                    "id": e.id,
                    "region": e.region,
                    "connections": e.connections,
                    "capacity": e.capacity,
                    "draining": e.draining,
                    "suspended": self.reports.suspended(e.id, e.updated, e.heartbeat_s),
                }
                for e in edges
            ],
        }


def answer(who: Identity, edge: EdgeRecord, placement: Placement, ticket: str) -> dict[str, Any]:
    """Slack's ``rtm.connect`` answer, plus the edge's Web API base, which edge it is (a client
    that cannot reach it names it as ``failed_edge`` next time), and whether the client's own
    region could not take it (``failover``)."""
    return {
        "url": f"{edge.ws_url}?ticket={ticket}",
        "self": {"id": who.user_id, "name": who.user_name},
        "team": {"id": who.team_id, "name": who.team_name, "domain": who.domain},
        "api_url": f"{edge.http_url}/api/",
        "edge": {"id": edge.id, "region": placement.region},
        "failover": placement.failover,
    }
