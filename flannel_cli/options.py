"""Flags shared by the subcommands, each with an environment-variable fallback."""

from __future__ import annotations

import argparse
import os

from origin.api.ratelimit import parse_tiers
from origin.settings import DEFAULT_DATABASE_URL, OriginSettings
from origin.store.urls import split_urls


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        action="append",
        help="sqlite:///path.db or mysql://user:pw@host:port/db; repeat or comma-separate "
        f"for several shards (env FLANNEL_DATABASE_URL; default {DEFAULT_DATABASE_URL})",
    )


def add_redis(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        default=env("FLANNEL_REDIS_URL"),
        help="redis://host:port/db; in-process when absent (env FLANNEL_REDIS_URL)",
    )
    parser.add_argument(
        "--redis-prefix",
        default=env("FLANNEL_REDIS_PREFIX", "flannel:"),
        help="every Redis key starts with it (env FLANNEL_REDIS_PREFIX; default flannel:)",
    )


def add_secret(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret",
        default=env("FLANNEL_SECRET", DEFAULT_SECRET),
        help="service-to-service and ticket signing secret (env FLANNEL_SECRET)",
    )


DEFAULT_SECRET = "dev-secret-change-me"
#: Secrets that ship in this repository (the CLI's default, docker-compose's old default).
KNOWN_SECRETS = frozenset({DEFAULT_SECRET, "change-me-in-production", ""})
LOOPBACK = ("127.", "::1", "localhost")


def insecure_secret(host: str | None, secret: str | None) -> str | None:
    """Why serving on ``host`` with ``secret`` is refused, or None when it is fine.

    The secret signs tickets and lets a service act as any user: a known one on an address
    others can reach forges both. On loopback (development, tests) the default is fine.
    """
    if host is None or host.startswith(LOOPBACK) or secret not in KNOWN_SECRETS:
        return None
    return (
        f"refusing to listen on {host} with the default secret: set FLANNEL_SECRET (or --secret) "
        "to a long random value shared by origin, edges and router"
    )


def add_listen(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument(
        "--host", default=env("FLANNEL_HOST", "127.0.0.1"), help="address to listen on (env FLANNEL_HOST)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(env("FLANNEL_PORT", str(port)) or port),
        help="port to listen on (env FLANNEL_PORT)",
    )


def database_urls(args: argparse.Namespace) -> list[str]:
    return split_urls(args.database_url) or split_urls(env("FLANNEL_DATABASE_URL")) or [DEFAULT_DATABASE_URL]


def origin_settings(args: argparse.Namespace) -> OriginSettings:
    settings = OriginSettings(
        database_urls=database_urls(args),
        redis_url=getattr(args, "redis_url", None),
        redis_prefix=getattr(args, "redis_prefix", "flannel:"),
        secret=getattr(args, "secret", DEFAULT_SECRET),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 8000),
    )
    settings.log_max_events = getattr(args, "log_max_events", settings.log_max_events)
    settings.log_max_age_s = getattr(args, "log_max_age", settings.log_max_age_s)
    settings.relay_fault = env("FLANNEL_RELAY_FAULT")
    limits = getattr(args, "rate_limits", None)
    if limits:
        settings.rate_limits = parse_tiers(limits)
    return settings
