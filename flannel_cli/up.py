"""``flannel up``: the whole system in one process on embedded defaults.

SQLite under ``.flannel/`` and the in-process change log shared by the origin and two edges
in two regions (``us`` and ``eu``); with ``--redis-url`` and ``--database-url`` the same
topology runs on the real servers. The first run seeds a demo workspace and remembers it in
``.flannel/demo.json``; later runs reuse it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, cast

import orjson

from changelog import TailableLog
from flannel.settings import EdgeSettings
from flannel_cli.edge import build_edge, server_config
from flannel_cli.files import add_files
from flannel_cli.notifier import add_smtp, build_notifier, notifier_config, smtp_config, state_path
from flannel_cli.options import (
    add_database,
    add_flag,
    add_listen,
    add_log_level,
    add_rate_limits,
    add_redis,
    add_secret,
    origin_settings,
)
from flannel_cli.serve import config, serve_all
from flannel_cli.serve import run as run_servers
from flannel_cli.webdemo import demo_signin
from origin.app import create_app, open_changelog
from origin.settings import OriginSettings
from origin.store.shards import Store
from router.app import create_app as create_router
from router.registry import MemoryRegistry
from router.settings import RouterSettings, parse_region_preference

REGIONS = ("us", "eu")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("up", help="run the whole system on embedded defaults, with a demo workspace")
    add_database(p, shown="sqlite:///<data-dir>/flannel.db")
    add_redis(p)
    add_secret(p)
    add_listen(p, 8000, port_help="origin port; edges, router take the next three")
    add_rate_limits(p)
    add_flag(p, "--data-dir", default=".flannel", help="the SQLite database and the demo's state")
    add_flag(p, "--demo-users", type=int, default=300, help="users of the demo workspace, on first run")
    add_flag(p, "--no-notifier", action="store_true", help="run without the notifier (notifications, email)")
    add_files(p, None, shown="file://<data-dir>/files")
    add_smtp(p)
    add_log_level(p, "warning")


def settings_from(args: argparse.Namespace) -> OriginSettings:
    """The origin's settings: as ``flannel origin``'s, on SQLite under ``--data-dir`` unless
    a database is given."""
    if not args.database_url:
        args.database_url = [f"sqlite:///{args.data_dir}/flannel.db"]
    if not args.file_store:
        args.file_store = f"file://{Path(args.data_dir).resolve()}/files"
    settings = origin_settings(args)
    if settings.files is not None and not settings.files.public_url:  # the router streams file bytes
        settings.files.public_url = f"http://{settings.host}:{settings.port + 1 + len(REGIONS)}"
    return settings


async def ensure_demo(store: Store, state_file: Path, users: int) -> dict[str, Any]:
    """The demo workspace, seeded on first run."""
    from origin.seed import seed_workspace

    if state_file.exists():
        demo: dict[str, Any] = orjson.loads(state_file.read_bytes())
        if demo.get("team_id") in await store.team_ids():
            return demo
    demo = await seed_workspace(
        store,
        users=users,
        channels=max(5, users // 20),
        messages=users * 5,
        seed=1,
        team_name="Flannel Demo",
        progress=lambda line: print(line, file=sys.stderr),
    )
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_bytes(orjson.dumps(demo))
    return demo


def banner(origin_url: str, router_url: str, edges: list[EdgeSettings], demo: dict[str, Any]) -> str:
    token = demo["tokens"][0]["token"]
    edge_lines = "\n".join(f"  edge {e.region}:           {e.http_url}/api/  {e.ws_url}" for e in edges)
    api = f"{edges[0].http_url}/api/"
    return f"""
Flannel is up.
  router (start here): {router_url}/api/rtm.connect
  origin (Web API):  {origin_url}/api/
{edge_lines}
  demo workspace:    {demo["team"]["name"]} ({demo["team_id"]}), {demo["users"]} users
  demo token:        {token}

Try it with slack_sdk (reads answered from the edge's memory, writes go to the origin):
  .venv/bin/python -c "from slack_sdk import WebClient; \\
    c = WebClient(token='{token}', base_url='{api}'); print(c.users_list(limit=3)['members'][0]['name'])"

Or with client_sdk, the thin client (it only needs the router's URL):
  .venv/bin/python -c "import asyncio; from client_sdk import FlannelClient
async def main():
    async with FlannelClient('{router_url}', '{token}') as c:
        print([u.name for u in await c.users.search('a')])
asyncio.run(main())"

Press Ctrl-C to stop.
"""


async def _main(args: argparse.Namespace) -> None:
    settings = settings_from(args)
    store = await Store.open(settings.database_urls)
    log = open_changelog(settings)
    try:
        demo = await ensure_demo(store, Path(args.data_dir) / "demo.json", args.demo_users)
        origin = create_app(settings, store=store, changelog=log)
        edges = [
            EdgeSettings(
                edge_id=f"edge-{region}-1",
                region=region,
                host=settings.host,
                port=settings.port + 1 + i,
                origin_url=settings.base_url,
                redis_url=settings.redis_url,
                redis_prefix=settings.redis_prefix,
                secret=settings.secret,
                rate_limits=dict(settings.rate_limits),  # the edges enforce the origin's tiers
            )
            for i, region in enumerate(REGIONS)
        ]
        registry = None if settings.redis_url else MemoryRegistry()
        # Presence and typing: one ephemeral bus and online store for the origin and the edges.
        from ephemeral.factory import Ephemeral
        from origin.service import presence

        ephemeral = Ephemeral(settings.redis_url, settings.redis_prefix)
        presence.install(ephemeral.online, ephemeral.bus())
        # The origin's log is Redis or in-process, and both can be followed (tailed).
        built = [
            build_edge(e, changelog=cast(TailableLog, log), registry=registry, ephemeral=ephemeral)
            for e in edges
        ]
        router = RouterSettings(
            host=settings.host,
            port=settings.port + 1 + len(REGIONS),
            origin_url=settings.base_url,
            redis_url=settings.redis_url,
            redis_prefix=settings.redis_prefix,
            secret=settings.secret,
            default_region=REGIONS[0],
            region_preference=parse_region_preference("us:us,eu;eu:eu,us"),
        )

        async def drain() -> None:
            await asyncio.gather(*(b.stop_then_drain() for b in built))

        # The notifier, in this process: it follows the same log and publishes on the same bus.
        notifier = None
        if not args.no_notifier:
            notifier = build_notifier(
                store,
                cast(TailableLog, log),
                ephemeral.bus(),
                notifier_config(args),
                smtp_config(args),
                state_path(Path(args.data_dir) / "notifier"),
                online=ephemeral.online,
            )
            await notifier.start()

        router_url = f"http://{router.host}:{router.port}"
        print(banner(settings.base_url, router_url, edges, demo), flush=True)
        print(await demo_signin(store, demo, router_url), flush=True)
        level = args.log_level
        configs = [config(origin, settings.host, settings.port, level, "origin")]
        for b, e in zip(built, edges, strict=True):
            configs.append(server_config(b.app, e, level, f"edge-{e.region}"))
        routing = create_router(router, registry=registry)
        configs.append(config(routing, router.host, router.port, level, "router"))
        try:
            await serve_all(configs, [drain])
        finally:
            if notifier is not None:
                await notifier.close()
            await ephemeral.close()
    finally:
        await log.close()
        await store.close()


def run(args: argparse.Namespace) -> int:
    try:
        smtp_config(args), notifier_config(args)
    except ValueError as exc:
        print(f"flannel up: {exc}", file=sys.stderr)
        return 2
    try:
        run_servers(_main(args))
    except KeyboardInterrupt:
        pass
    return 0
