"""What the router does for one connect, apart from HTTP: check, place, record, sign.

The order matters: limits first (cheap, and they shield the origin), then the token (placement
is keyed by its workspace), then placement over the registry's live edges with the warm set
the routers share, and last the signed ticket for the one edge chosen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from router.errors import RouterError, ratelimited
from router.loads import PendingLoads
from router.placement import Edge, NoEdgeAvailable, Placement, Placer
from router.ratelimit import RateLimiter
from router.registry import EdgeRecord, Registry, RegistryUnavailable, warm_edges
from router.settings import RouterSettings, valid_region
from router.tickets import issue
from router.tokens import Identity, TokenChecker, token_hash

_OFFSET = re.compile(r"\d{1,18}")


@dataclass
class Counters:
    """What ``/internal/stats`` reports; ``rejected`` breaks ``rejections`` down by error code."""

    placements: int = 0
    warm_hits: int = 0
    spill_overs: int = 0
    failovers: int = 0
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


def resume_offset(value: Any) -> int | None:
    """``resume_from`` as given by a client: absent, or a non-negative integer."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18:
        return value
    if isinstance(value, str) and _OFFSET.fullmatch(value):
        return int(value)
    raise RouterError("invalid_arguments", detail="resume_from must be a non-negative integer offset")


class Router:
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
        self.placer = Placer(settings.c, settings.vnodes, settings.spill_k, settings.region_preference)
        self.pending = PendingLoads(clock=clock)
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
            raise ratelimited(wait)

    async def auth_test(self, token: str | None, address: str) -> dict[str, Any]:
        self._limit(self.by_address, address)
        return dict((await self.tokens.check(token)).body)

    async def connect(self, token: str | None, address: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """``rtm.connect``: the answer's fields after ``ok``; ``RouterError`` when refused."""
        try:
            return await self._connect(token, address, args)
        except RouterError as exc:
            self.counters.reject(exc.code)
            raise

    async def _connect(self, token: str | None, address: str, args: Mapping[str, Any]) -> dict[str, Any]:
        self._limit(self.by_address, address)
        if token:
            self._limit(self.by_token, token_hash(token))
        resume_from = resume_offset(args.get("resume_from"))
        region = args.get("region") or self.settings.default_region
        if not isinstance(region, str) or not valid_region(region):
            raise RouterError("invalid_arguments", detail="region must be a short region name")
        who = await self.tokens.check(token)
        record, placement = await self.place(who.team_id, region)
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

    async def place(self, team_id: str, region: str) -> tuple[EdgeRecord, Placement]:
        """Choose and record the edge for one connection of ``team_id`` from ``region``."""
        try:
            records = {r.id: r for r in await self.registry.edges()}
        except RegistryUnavailable as exc:
            raise RouterError("service_unavailable", 503, "the edge registry is unreachable") from exc
        self.pending.forget(set(records))
        assignments = await self.registry.warm(team_id)
        warm = warm_edges(assignments, records)
        edges = [self._edge(r) for r in records.values()]
        try:
            placement = self.placer.place(team_id, region, edges, warm)
        except NoEdgeAvailable as exc:
            fallback = self.settings.default_region
            if region == fallback or fallback in exc.regions_tried:
                raise RouterError("no_edge_available", 503, str(exc)) from exc
            try:  # an unknown or empty region with no preference of its own: the default's list
                placement = replace(self.placer.place(team_id, fallback, edges, warm), failover=True)
            except NoEdgeAvailable as again:
                raise RouterError("no_edge_available", 503, str(again)) from again
        chosen = records[placement.edge_id]
        self.pending.add(chosen.id)
        self.counters.count(placement)
        if not placement.warm or self._clock() - assignments.get(chosen.id, 0.0) >= self.mark_every_s:
            await self.registry.mark_warm(team_id, chosen.id)
        return chosen, placement

    def _edge(self, r: EdgeRecord) -> Edge:
        load = r.connections + self.pending.since(r.id, r.updated)
        return Edge(r.id, r.region, load, r.capacity, draining=r.draining)

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
                }
                for e in edges
            ],
        }


def answer(who: Identity, edge: EdgeRecord, placement: Placement, ticket: str) -> dict[str, Any]:
    """Slack's ``rtm.connect`` answer, plus the edge's Web API base and where it is."""
    return {
        "url": f"{edge.ws_url}?ticket={ticket}",
        "self": {"id": who.user_id, "name": who.user_name},
        "team": {"id": who.team_id, "name": who.team_name, "domain": who.domain},
        "api_url": f"{edge.http_url}/api/",
        "edge": {"id": edge.id, "region": placement.region},
    }
