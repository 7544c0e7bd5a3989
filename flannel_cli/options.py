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
        default=env("FLANNEL_SECRET", "dev-secret-change-me"),
        help="service-to-service and ticket signing secret (env FLANNEL_SECRET)",
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
        secret=getattr(args, "secret", "dev-secret-change-me"),
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
