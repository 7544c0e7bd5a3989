"""``flannel edge``: run one regional edge cache."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from flannel_cli.options import add_listen, add_redis, add_secret, env


def add_parser(sub: Any) -> None:
    p = sub.add_parser("edge", help="run an edge cache (thin clients' Web API and WebSocket)")
    add_redis(p)
    add_secret(p)
    add_listen(p, 8100)
    p.add_argument("--region", default=env("FLANNEL_REGION", "local"), help="env FLANNEL_REGION")
    p.add_argument("--edge-id", default=env("FLANNEL_EDGE_ID"), help="default: edge-<region>-<port>")
    p.add_argument(
        "--origin-url",
        default=env("FLANNEL_ORIGIN_URL", "http://127.0.0.1:8000"),
        help="env FLANNEL_ORIGIN_URL",
    )
    p.add_argument("--public-url", default=env("FLANNEL_PUBLIC_URL"), help="how clients reach this edge")
    p.add_argument(
        "--cache-mb",
        type=float,
        default=float(env("FLANNEL_CACHE_MB", "512") or 512),
        help="memory budget of the workspace cache (env FLANNEL_CACHE_MB)",
    )
    p.add_argument("--max-frame-bytes", type=int, default=64 * 1024)
    p.add_argument("--send-queue", type=int, default=1000, help="frames queued per connection")
    p.add_argument("--drain-window", type=float, default=10.0, help="seconds to spread goodbyes over")
    p.add_argument("--deflate", action="store_true", help="per-message deflate (costs memory)")
    p.add_argument(
        "--capacity",
        type=int,
        default=int(env("FLANNEL_EDGE_CAPACITY", "10000") or 10000),
        help="most live sessions; routers send no more (env FLANNEL_EDGE_CAPACITY)",
    )
    p.add_argument(
        "--heartbeat",
        type=float,
        default=float(env("FLANNEL_HEARTBEAT", "2") or 2),
        help="seconds between registry heartbeats (env FLANNEL_HEARTBEAT)",
    )
    p.add_argument(
        "--log-level",
        default=env("FLANNEL_LOG_LEVEL", "info"),
        help="debug, info, warning or error (env FLANNEL_LOG_LEVEL)",
    )


def settings_from(args: argparse.Namespace) -> Any:
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
        drain_window_s=args.drain_window,
        deflate=args.deflate,
        public_url=args.public_url,
        capacity=args.capacity,
        heartbeat_s=args.heartbeat,
    )


def run(args: argparse.Namespace) -> int:
    from flannel.app import create_app
    from flannel_cli.serve import config, serve_all

    settings = settings_from(args)
    app = create_app(settings)
    cfg = config(app, settings.host, settings.port, args.log_level, "edge")
    cfg.ws_per_message_deflate = settings.deflate

    async def drain() -> None:
        await stop_then_drain(app)

    asyncio.run(serve_all([cfg], before_exit=[drain]))
    return 0


async def stop_then_drain(app: Any) -> None:
    """Leave the registry first (routers stop sending sessions here), give routers a moment
    to notice, then spread the goodbyes."""
    await app.state.registration.stop()
    await asyncio.sleep(0.3)
    await app.state.edge.drain()
