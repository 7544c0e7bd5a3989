"""``flannel edge``: run one regional edge cache; and the edge's composition root.

:func:`build_edge` is where an edge's I/O is chosen and built from its settings: the origin
client, the change log, the ticket nonce store, the regional snapshot cache and the registry
store (Redis when ``redis_url`` is set, in-process otherwise). ``flannel up`` and the embedded
benchmark call it with a change log and a registry shared with the processes' other parts.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flannel_cli.options import (
    add_flag,
    add_listen,
    add_log_level,
    add_rate_limits,
    add_redis,
    add_secret,
)
from wire.ratelimit import DEFAULT_TIERS, parse_tiers

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from uvicorn import Config

    from changelog import TailableLog
    from ephemeral.factory import Ephemeral
    from flannel.edge import Edge
    from flannel.presence.settings import PresenceSettings
    from flannel.registry import EdgeRegistration, RegistryStore
    from flannel.settings import EdgeSettings


def add_parser(sub: Any) -> None:
    p = sub.add_parser("edge", help="run an edge cache (thin clients' Web API and WebSocket)")
    add_redis(p)
    add_secret(p)
    add_listen(p, 8100)
    add_flag(p, "--region", default="local", help="the region this edge serves")
    add_flag(p, "--edge-id", shown="edge-<region>-<port>", help="this edge's name in the registry")
    add_flag(p, "--origin-url", default="http://127.0.0.1:8000", help="where the origin is")
    add_flag(p, "--public-url", help="how clients reach this edge")
    add_rate_limits(p)
    add_flag(p, "--cache-mb", type=float, default=512.0, help="memory budget of the workspace cache")
    add_flag(
        p, "--max-frame-bytes", type=int, default=64 * 1024, help="largest frame a client may send, in bytes"
    )
    add_flag(p, "--send-queue", type=int, default=1000, help="frames queued per connection")
    add_flag(
        p,
        "--write-stall",
        env="FLANNEL_WRITE_STALL_S",
        type=float,
        default=5.0,
        help="seconds a write may stay pending before the connection is dropped, 4008",
    )
    add_flag(p, "--drain-window", type=float, default=10.0, help="seconds to spread goodbyes over")
    add_flag(p, "--deflate", action="store_true", help="per-message deflate (costs memory)")
    add_flag(
        p,
        "--capacity",
        env="FLANNEL_EDGE_CAPACITY",
        type=int,
        default=10000,
        help="most live sessions; routers send no more",
    )
    add_flag(p, "--heartbeat", type=float, default=2.0, help="seconds between registry heartbeats")
    add_presence(p)
    add_log_level(p)


def add_presence(p: Any) -> None:
    """The presence and typing flags (``flannel.presence.settings.PresenceSettings``)."""
    add_flag(p, "--presence-away-after", type=float, default=600.0, help="idle seconds to auto-away")
    add_flag(
        p,
        "--presence-ttl",
        type=float,
        default=30.0,
        help="seconds an edge's presence report lives without a heartbeat (a dead edge's users go away)",
    )
    add_flag(p, "--presence-coalesce", type=float, default=0.25, help="seconds presence changes are batched")
    add_flag(p, "--bots-auto-away", action="store_true", help="bots go auto-away too (else always active)")
    add_flag(p, "--typing-interval", type=float, default=3.0, help="seconds between typings sent")
    add_flag(p, "--typing-expiry", type=float, default=5.0, help="seconds a typist shows")
    add_flag(p, "--typing-member-cap", type=int, default=1000, help="no typing in channels with more members")


def presence_from(args: argparse.Namespace) -> PresenceSettings:
    from flannel.presence.settings import PresenceSettings

    return PresenceSettings(
        away_after_s=args.presence_away_after,
        bots_always_active=not args.bots_auto_away,
        ttl_s=args.presence_ttl,
        coalesce_s=args.presence_coalesce,
        typing_interval_s=args.typing_interval,
        typing_expiry_s=args.typing_expiry,
        typing_member_cap=args.typing_member_cap,
    )


def settings_from(args: argparse.Namespace) -> EdgeSettings:
    from flannel.settings import EdgeSettings

    return EdgeSettings(
        edge_id=args.edge_id or f"edge-{args.region}-{args.port}",
        region=args.region,
        host=args.host,
        port=args.port,
        origin_url=args.origin_url,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix,
        secret=args.secret,
        cache_mb=args.cache_mb,
        max_frame_bytes=args.max_frame_bytes,
        send_queue=args.send_queue,
        write_stall_s=args.write_stall,
        drain_window_s=args.drain_window,
        deflate=args.deflate,
        public_url=args.public_url,
        capacity=args.capacity,
        heartbeat_s=args.heartbeat,
        rate_limits=parse_tiers(args.rate_limits) if args.rate_limits else dict(DEFAULT_TIERS),
    )


@dataclass
class BuiltEdge:
    """An edge, ready to serve: its app, and what a graceful stop needs."""

    app: Starlette
    edge: Edge
    registration: EdgeRegistration

    async def stop_then_drain(self) -> None:
        """Leave the registry first (routers stop sending sessions here), give routers a
        moment to notice, then spread the goodbyes."""
        await self.registration.stop()
        await asyncio.sleep(0.3)
        await self.edge.drain()


def build_edge(
    settings: EdgeSettings,
    changelog: TailableLog | None = None,
    registry: RegistryStore | None = None,
    presence: PresenceSettings | None = None,
    ephemeral: Ephemeral | None = None,
) -> BuiltEdge:
    """The edge of ``settings``, with its I/O built here. A ``changelog``, ``registry`` or
    ``ephemeral`` (the presence/typing bus and online store) given is shared with others in
    this process, and left open; what is built here is closed by the app's lifespan."""
    from changelog import MemoryLog, RedisLog
    from ephemeral.factory import Ephemeral
    from flannel.app import create_app
    from flannel.edge import Edge
    from flannel.nonces import RedisNonceStore
    from flannel.origin_client import OriginClient
    from flannel.regional import RegionalSnapshots, redis_cache
    from flannel.registry import EdgeRegistration, MemoryRegistryStore, RedisRegistryStore
    from wire.keys import snapshot_namespace
    from wire.tickets import MemoryNonceStore, NonceStore

    url, prefix = settings.redis_url, settings.redis_prefix
    origin = OriginClient(settings.origin_url, settings.secret)
    closers = [origin.close]
    if changelog is None:
        changelog = RedisLog(url, prefix) if url else MemoryLog()
        closers.append(changelog.close)
    # In memory, nonces die with the process: tickets issued before it started are refused.
    nonces: NonceStore = MemoryNonceStore(epoch=time.time())
    starters: list[Callable[[], Awaitable[None]]] = []
    if url:
        redis_nonces = RedisNonceStore(url, prefix, settings.edge_id)
        starters.append(redis_nonces.start)
        closers.append(redis_nonces.close)
        nonces = redis_nonces
    cache = redis_cache(url, snapshot_namespace(prefix, settings.region)) if url else None
    regional = RegionalSnapshots(cache, origin.snapshot, settings.regional_snapshot_ttl_s)
    closers.append(regional.close)
    if registry is None:
        registry = RedisRegistryStore(url, prefix) if url else MemoryRegistryStore()
        closers.append(registry.close)
    if ephemeral is None:
        ephemeral = Ephemeral(url, prefix)
        closers.append(ephemeral.close)
    edge = Edge(
        settings,
        origin=origin,
        changelog=changelog,
        nonces=nonces,
        regional=regional,
        bus=ephemeral.bus(),
        online=ephemeral.online,
        presence=presence,
    )
    registration = EdgeRegistration(settings, lambda: edge.connections, lambda: edge.draining, registry)
    return BuiltEdge(create_app(edge, registration, closers, starters), edge, registration)


def server_config(
    app: Any, settings: EdgeSettings, log_level: str = "info", service: str | None = "edge"
) -> Config:
    """uvicorn's settings for an edge: its WebSocket protocol can drop a connection whose
    client stopped reading (:mod:`flannel.transport`), and deflate as configured."""
    from flannel.transport import DroppableWebSockets
    from flannel_cli.serve import config

    cfg = config(app, settings.host, settings.port, log_level, service)
    cfg.ws = DroppableWebSockets
    cfg.ws_per_message_deflate = settings.deflate
    return cfg


def run(args: argparse.Namespace) -> int:
    from flannel_cli.serve import run as run_servers
    from flannel_cli.serve import serve_all

    built = build_edge(settings_from(args), presence=presence_from(args))
    cfg = server_config(built.app, built.edge.settings, args.log_level)
    run_servers(serve_all([cfg], before_exit=[built.stop_then_drain]))
    return 0
