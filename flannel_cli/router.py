"""``flannel router``: run the router (rtm.connect that pins clients to warm edges)."""

from __future__ import annotations

import argparse
from typing import Any

from flannel_cli.options import add_flag, add_listen, add_log_level, add_redis, add_secret


def add_parser(sub: Any) -> None:
    p = sub.add_parser("router", help="run the router: rtm.connect to the edge most likely warm")
    add_redis(p)
    add_secret(p)
    add_listen(p, 8200)
    add_flag(p, "--origin-url", default="http://127.0.0.1:8000", help="where tokens are checked")
    add_flag(p, "--default-region", default="local", help="for clients that name none")
    add_flag(p, "--region-preference", default="", help='failover, e.g. "us:us,eu;eu:eu,us"')
    add_flag(
        p,
        "--c",
        env="FLANNEL_ROUTER_C",
        type=float,
        default=1.25,
        help="load bound factor: no edge above ceil(c x mean)",
    )
    add_flag(
        p,
        "--region-order",
        default="",
        help='nearness, tried after a region\'s preference, e.g. "us,eu,ap"; every other '
        "live region follows, least loaded first",
    )
    add_flag(
        p,
        "--load-floor",
        env="FLANNEL_ROUTER_LOAD_FLOOR",
        type=float,
        default=0.02,
        help="fraction of an edge's capacity below which it is never over the load bound, so "
        "idle edges do not split a workspace",
    )
    add_flag(
        p,
        "--failed-edge-reporters",
        type=int,
        default=3,
        help="distinct clients reporting an edge unreachable that take it out until it "
        "heartbeats again (one suffices when its heartbeat is late)",
    )
    add_flag(p, "--failed-edge-window", type=float, default=10.0, help="seconds a failed-edge report counts")
    add_flag(p, "--spill-k", type=int, default=3, help="edges a big workspace may spill over to")
    add_flag(p, "--vnodes", type=int, default=160, help="virtual nodes per edge on the ring")
    add_flag(p, "--token-ttl", type=float, default=10.0, help="seconds a token check is cached")
    add_flag(p, "--warm-ttl", type=float, default=900.0, help="seconds an assignment counts as warm")
    add_flag(p, "--ticket-ttl", type=float, default=30.0, help="seconds a WebSocket ticket is valid")
    add_flag(
        p,
        "--connects-per-token",
        type=float,
        default=30.0,
        help="per minute, after --connect-burst",
    )
    add_flag(p, "--connect-burst", type=int, default=10, help="connects a token may make at once")
    add_flag(
        p,
        "--calls-per-address",
        type=float,
        default=600.0,
        help="per minute per client address, after a burst of --address-burst",
    )
    add_flag(p, "--address-burst", type=int, default=100, help="calls an address may make at once")
    add_log_level(p)


def settings_from(args: argparse.Namespace) -> Any:
    from router.settings import RouterSettings, parse_region_preference, parse_regions

    return RouterSettings(
        host=args.host,
        port=args.port,
        origin_url=args.origin_url,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix,
        secret=args.secret,
        default_region=args.default_region,
        region_preference=parse_region_preference(args.region_preference),
        region_order=parse_regions(args.region_order),
        c=args.c,
        load_floor=args.load_floor,
        failed_edge_reporters=args.failed_edge_reporters,
        failed_edge_window_s=args.failed_edge_window,
        vnodes=args.vnodes,
        spill_k=args.spill_k,
        ticket_ttl_s=args.ticket_ttl,
        token_ttl_s=args.token_ttl,
        warm_ttl_s=args.warm_ttl,
        connects_per_token=args.connects_per_token,
        connect_burst_per_token=args.connect_burst,
        calls_per_address=args.calls_per_address,
        call_burst_per_address=args.address_burst,
    )


def run(args: argparse.Namespace) -> int:
    from flannel_cli.serve import config, serve_all
    from flannel_cli.serve import run as run_servers
    from router.app import create_app
    from router.registry import open_registry

    try:
        settings = settings_from(args)
    except ValueError as exc:
        raise SystemExit(f"flannel router: {exc}") from None
    app = create_app(settings, open_registry(settings))
    run_servers(serve_all([config(app, settings.host, settings.port, args.log_level, "router")]))
    return 0
