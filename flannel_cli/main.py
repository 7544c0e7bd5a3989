"""``flannel``: one console script, a subcommand per part of the system."""

from __future__ import annotations

import argparse
import asyncio
import sys

from flannel_cli import admin, edge, notifier, notifier_child, router, seed, up
from flannel_cli.files import add_files
from flannel_cli.options import (
    FlagParser,
    add_database,
    add_flag,
    add_listen,
    add_log_level,
    add_rate_limits,
    add_redis,
    add_search,
    add_secret,
    env,
    insecure_secret,
    origin_settings,
)


def build_parser() -> argparse.ArgumentParser:
    parser = FlagParser(prog="flannel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    origin = sub.add_parser("origin", help="run the origin (Web API, persistence, change log)")
    add_database(origin)
    add_redis(origin)
    add_secret(origin)
    add_listen(origin, 8000)
    add_rate_limits(origin)
    add_search(origin)
    add_log_level(origin)
    add_files(origin, "file://.flannel/files", shown="file://.flannel/files (under the working directory)")
    add_flag(
        origin,
        "--log-max-events",
        type=int,
        default=100000,
        help="change-log retention by count, per workspace",
    )
    add_flag(
        origin,
        "--log-max-age",
        type=float,
        default=86400.0,
        help="change-log retention by age in seconds",
    )

    notifier.add_origin_flags(origin)  # its notifier child: --no-notifier, SMTP, email delay

    admin.add_parser(sub)
    edge.add_parser(sub)
    notifier.add_parser(sub)
    router.add_parser(sub)
    seed.add_parser(sub)
    up.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    refused = insecure_secret(getattr(args, "host", None), getattr(args, "secret", None))
    if refused is not None and args.command in ("origin", "edge", "router", "up", "notifier"):
        print(f"flannel {args.command}: {refused}", file=sys.stderr)
        return 2
    if args.command in ("origin", "edge", "router", "up", "notifier"):
        from flannel_cli.logs import configure

        configure(
            args.command, getattr(args, "log_level", "info"), env("FLANNEL_LOG_FORMAT", "json") or "json"
        )
    if args.command == "origin":
        return run_origin(args)
    if args.command == "edge":
        return edge.run(args)
    if args.command == "router":
        return router.run(args)
    if args.command == "notifier":
        return notifier.run(args)
    if args.command == "admin":
        return asyncio.run(admin.run(args))
    if args.command == "seed":
        return asyncio.run(seed.run(args))
    if args.command == "up":
        return up.run(args)
    return 2


def run_origin(args: argparse.Namespace) -> int:
    from flannel_cli.serve import config, run, serve_all
    from origin.app import create_app

    settings = origin_settings(args)
    try:
        child = notifier_child.origin_child(args)  # None: --no-notifier, or no Redis (logged)
    except ValueError as exc:
        print(f"flannel origin: {exc}", file=sys.stderr)
        return 2
    install_presence(settings.redis_url, settings.redis_prefix)
    app = create_app(settings)
    if child is not None:
        child.start()
    try:
        run(serve_all([config(app, settings.host, settings.port, args.log_level, "origin")]))
    finally:
        if child is not None:
            child.stop()
    return 0


def install_presence(redis_url: str | None, prefix: str) -> None:
    """The origin's presence ports (``users.getPresence`` reads the edges' online counts,
    ``users.setPresence`` tells the edges): on Redis, where the edges are; none without it."""
    if redis_url:
        from ephemeral.redis_bus import RedisBus, RedisOnline
        from origin.service import presence

        presence.install(RedisOnline(redis_url, prefix), RedisBus(redis_url, prefix))


if __name__ == "__main__":
    sys.exit(main())
