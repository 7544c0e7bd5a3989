"""``python -m loadtest.embedded``: origin and edges in ONE process, sharing an in-process log.

The benchmark's ``--embedded`` stack (SQLite, no Redis). Edges are separate processes only
when a shared change log (Redis) connects them; without one, the origin's ``MemoryLog`` is
handed to every edge app here and all of them are served by uvicorn on one event loop, each
on its own port. Per-process figures (an edge's memory) then cover the whole stack.
"""

from __future__ import annotations

import argparse
import asyncio

from flannel.app import create_app as create_edge
from flannel.settings import EdgeSettings
from flannel_cli.serve import config, serve_all
from origin.api.ratelimit import parse_tiers
from origin.app import create_app as create_origin
from origin.changelog import MemoryLog
from origin.settings import OriginSettings


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.embedded", description=__doc__)
    p.add_argument("--database-url", required=True)
    p.add_argument("--origin-port", type=int, required=True)
    p.add_argument("--edge-port", type=int, action="append", default=[], help="one per edge")
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
    for i, port in enumerate(args.edge_port):
        edge = EdgeSettings(
            edge_id=f"edge-{i}-{port}",
            region=f"r{i}",
            host=host,
            port=port,
            origin_url=origin.base_url,
            secret=args.secret,
            drain_window_s=1.0,
        )
        configs.append(config(create_edge(edge, changelog=log), host, port, args.log_level))
    asyncio.run(serve_all(configs))


if __name__ == "__main__":
    main()
