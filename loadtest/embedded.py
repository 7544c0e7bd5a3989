"""``python -m loadtest.embedded``: origin, edges and router in ONE process, sharing an
in-process log and an in-process edge registry.

The benchmark's ``--embedded`` stack (SQLite, no Redis). Edges are separate processes only
when a shared change log (Redis) connects them; without one, the origin's ``MemoryLog`` is
handed to every edge app here, the router's ``MemoryRegistry`` to every edge and the router
(as ``flannel up`` does), and all of them are served by uvicorn on one event loop, each on its
own port. Edge ``i`` is named ``edge-<region>-<port>``. Per-process figures (an edge's memory)
then cover the whole stack.
"""

from __future__ import annotations

import argparse

from changelog import MemoryLog
from flannel.settings import EdgeSettings
from flannel_cli.edge import build_edge, server_config
from flannel_cli.serve import config, run, serve_all
from origin.api.ratelimit import parse_tiers
from origin.app import create_app as create_origin
from origin.settings import OriginSettings
from router.app import create_app as create_router
from router.registry import MemoryRegistry
from router.settings import RouterSettings


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.embedded", description=__doc__)
    p.add_argument("--database-url", required=True)
    p.add_argument("--origin-port", type=int, required=True)
    p.add_argument("--edge-port", type=int, action="append", default=[], help="one per edge")
    p.add_argument("--edge-region", action="append", default=[], help="one per edge (default r<i>)")
    p.add_argument("--router-port", type=int, help="serve a router too (default region: the first edge's)")
    p.add_argument("--secret", default="dev-secret-change-me")
    p.add_argument("--rate-limits", default="1:0,2:0,3:0,4:0", help="0: unlimited")
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)

    host = "127.0.0.1"
    origin = OriginSettings(
        database_urls=[args.database_url],
        secret=args.secret,
        host=host,
        port=args.origin_port,
        rate_limits=parse_tiers(args.rate_limits),
    )
    log = MemoryLog(origin.log_max_events, origin.log_max_age_s)
    configs = [config(create_origin(origin, changelog=log), host, args.origin_port, args.log_level)]
    regions = [*args.edge_region, *(f"r{i}" for i in range(len(args.edge_region), len(args.edge_port)))]
    registry = MemoryRegistry()
    if args.router_port:
        router = RouterSettings(
            host=host,
            port=args.router_port,
            origin_url=origin.base_url,
            secret=args.secret,
            default_region=regions[0] if regions else "local",
            calls_per_address=1e9,  # as good as unlimited: a storm comes from one address
            call_burst_per_address=1_000_000,
            connects_per_token=1e9,
            connect_burst_per_token=1000,
        )
        configs.append(config(create_router(router, registry=registry), host, router.port, args.log_level))
    for port, region in zip(args.edge_port, regions, strict=True):
        edge = EdgeSettings(
            edge_id=f"edge-{region}-{port}",
            region=region,
            host=host,
            port=port,
            origin_url=origin.base_url,
            secret=args.secret,
            drain_window_s=1.0,
        )
        built = build_edge(edge, changelog=log, registry=registry)
        configs.append(server_config(built.app, edge, args.log_level, service=None))
    run(serve_all(configs))


if __name__ == "__main__":
    main()
