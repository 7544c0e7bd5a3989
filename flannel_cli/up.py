"""``flannel up``: the whole system in one process on embedded defaults.

SQLite under ``.flannel/``, everything else in-process. The first run seeds a demo
workspace and remembers it in ``.flannel/demo.json``; later runs reuse it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from flannel_cli.options import add_database, add_redis, add_secret, database_urls, env, origin_settings
from flannel_cli.serve import config, serve_all
from origin.app import create_app
from origin.store.shards import Store


def add_parser(sub: Any) -> None:
    p = sub.add_parser("up", help="run the whole system on embedded defaults, with a demo workspace")
    add_database(p)
    add_redis(p)
    add_secret(p)
    p.add_argument("--host", default=env("FLANNEL_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("FLANNEL_PORT", "8000") or 8000),
                   help="origin port (env FLANNEL_PORT; default 8000)")  # fmt: skip
    p.add_argument("--data-dir", default=env("FLANNEL_DATA_DIR", ".flannel"))
    p.add_argument("--demo-users", type=int, default=300)
    p.add_argument("--log-level", default="warning")


async def ensure_demo(store: Store, state_file: Path, users: int) -> dict[str, Any]:
    """The demo workspace, seeded on first run."""
    from origin.seed import seed_workspace

    if state_file.exists():
        demo: dict[str, Any] = orjson.loads(state_file.read_bytes())
        if demo.get("team_id") in await store.team_ids():
            return demo
    demo = await seed_workspace(
        store, users=users, channels=max(5, users // 20), messages=users * 5, seed=1,
        team_name="Flannel Demo", progress=lambda line: print(line, file=sys.stderr),
    )  # fmt: skip
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_bytes(orjson.dumps(demo))
    return demo


def banner(origin_url: str, demo: dict[str, Any]) -> str:
    token = demo["tokens"][0]["token"]
    return f"""
Flannel is up.
  origin (Web API):  {origin_url}/api/
  demo workspace:    {demo["team"]["name"]} ({demo["team_id"]}), {demo["users"]} users
  demo token:        {token}

Try it with slack_sdk:
  .venv/bin/python -c "from slack_sdk import WebClient; \\
    c = WebClient(token='{token}', base_url='{origin_url}/api/'); print(c.auth_test())"

Press Ctrl-C to stop.
"""


async def _main(args: argparse.Namespace) -> None:
    if not args.database_url and not env("FLANNEL_DATABASE_URL"):
        args.database_url = [f"sqlite:///{args.data_dir}/flannel.db"]
    settings = origin_settings(args)
    store = await Store.open(database_urls(args))
    try:
        demo = await ensure_demo(store, Path(args.data_dir) / "demo.json", args.demo_users)
        app = create_app(settings, store=store)
        print(banner(settings.base_url, demo), flush=True)
        await serve_all([config(app, settings.host, settings.port, args.log_level)])
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass
    return 0
