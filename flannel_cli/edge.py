"""``flannel edge``: run one regional edge cache; and the edge's composition root.

:func:`build_edge` is where an edge's I/O is chosen and built from its settings: the origin
client, the change log, the ticket nonce store, the regional snapshot cache and the registry
store (Redis when ``redis_url`` is set, in-process otherwise). ``flannel up`` and the embedded
benchmark call it with a change log and a registry shared with the processes' other parts.

``--workers N`` runs N edge processes on one host, one per core (:func:`worker_settings`):
worker ``i`` listens on ``--port`` + ``i`` and registers as an edge of its own
(``<edge-id>-<i>``), so routers place on each like on any other edge and a process that dies
is left out like any dead edge; no state is shared between them. Each worker is pinned to a
CPU of its own when the host gives the command at least N. The parent only starts them,
passes SIGTERM/SIGINT on (each drains as a single edge does) and exits when they all have.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

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
    add_flag(
        p,
        "--workers",
        type=int,
        default=1,
        help="edge processes on this host, one per core: worker i on --port + i, registered as <edge-id>-<i>",
    )
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


def worker_settings(settings: EdgeSettings, workers: int) -> list[EdgeSettings]:
    """The settings of each of ``workers`` edge processes: worker ``i`` on ``port + i``, as
    edge ``<edge_id>-<i>``, its public URL (when given) on the same port offset. One worker:
    ``settings`` unchanged. ValueError when they cannot be told apart."""
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    if workers == 1:
        return [settings]
    if settings.port == 0:
        raise ValueError("--workers needs a fixed --port (worker i listens on --port + i)")
    public = urlsplit(settings.public_url) if settings.public_url else None
    if public is not None and public.port is None:
        raise ValueError("with --workers, --public-url needs an explicit port (worker i: port + i)")
    out: list[EdgeSettings] = []
    for i in range(workers):
        url = settings.public_url
        if public is not None and public.port is not None:
            host = public.netloc.rsplit(":", 1)[0]
            url = urlunsplit(public._replace(netloc=f"{host}:{public.port + i}"))
        out.append(
            dataclasses.replace(
                settings, port=settings.port + i, edge_id=f"{settings.edge_id}-{i}", public_url=url
            )
        )
    return out


def worker_cpus(workers: int, allowed: set[int]) -> list[set[int] | None]:
    """The CPU each worker is pinned to: one each when there are enough, else none pinned."""
    cpus = sorted(allowed)
    if workers < 2 or len(cpus) < workers:
        return [None] * workers
    return [{cpus[i]} for i in range(workers)]


def serve(settings: EdgeSettings, presence: PresenceSettings, log_level: str) -> None:
    """Serve one edge in this process until SIGTERM/SIGINT (then drain and exit)."""
    from flannel import gcstats
    from flannel_cli.serve import run as run_servers
    from flannel_cli.serve import serve_all

    built = build_edge(settings, presence=presence)
    cfg = server_config(built.app, built.edge.settings, log_level)
    main = serve_all([cfg], before_exit=[built.stop_then_drain])
    # The process's full collections at quiet moments, not mid-fanout (flannel.gcstats).
    run_servers(gcstats.serving(main) if settings.gc_freeze else main)


def _worker(
    settings: EdgeSettings, presence: PresenceSettings, log_level: str, log_format: str, cpus: set[int] | None
) -> None:
    """One worker process (spawned): its own logging, CPU and edge; dies with the parent."""
    import ctypes

    from flannel_cli.logs import configure

    os.setpgrp()  # a terminal's Ctrl-C reaches the parent only, which passes it on once
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: die with the parent
    if cpus:
        os.sched_setaffinity(0, cpus)
    configure("edge", log_level, log_format)
    serve(settings, presence, log_level)


def run_workers(settings: list[EdgeSettings], presence: PresenceSettings, log_level: str) -> int:
    """Start one process per worker, pass stop signals on, wait for all; the worst exit code."""
    import multiprocessing

    from flannel_cli.options import env

    log_format = env("FLANNEL_LOG_FORMAT", "json") or "json"
    ctx = multiprocessing.get_context("spawn")
    pins = worker_cpus(len(settings), os.sched_getaffinity(0))
    procs = [
        ctx.Process(target=_worker, args=(s, presence, log_level, log_format, cpu), name=s.edge_id)
        for s, cpu in zip(settings, pins, strict=True)
    ]

    def forward(signum: int, frame: object) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return max((abs(proc.exitcode or 0) for proc in procs), default=0)


def run(args: argparse.Namespace) -> int:
    try:
        every = worker_settings(settings_from(args), args.workers)
    except ValueError as exc:
        print(f"flannel edge: {exc}", file=sys.stderr)
        return 2
    if len(every) == 1:
        serve(every[0], presence_from(args), args.log_level)
        return 0
    return run_workers(every, presence_from(args), args.log_level)
