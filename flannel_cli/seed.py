"""``flannel seed``: build a synthetic workspace and print one JSON object describing it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from flannel_cli.options import add_database, add_flag, database_urls
from origin.seed import seed_workspace
from origin.store.shards import Store
from wire.errors import SlackError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "seed",
        help="create a realistic synthetic workspace (users, channels, DMs, messages)",
        description="Prints {ok, team_id, team, users, channels, messages, tokens, channel_ids, "
        "seconds} as one JSON object on stdout; progress goes to stderr.",
    )
    add_flag(p, "--users", type=int, default=1000, help="number of users")
    add_flag(p, "--channels", type=int, default=50, help="public and private channels")
    add_flag(p, "--messages", type=int, default=2000, help="messages, replies included")
    add_flag(p, "--seed", type=int, default=1, help="same seed, same workspace content")
    add_flag(p, "--team-name", default="Acme", help="workspace name")
    add_database(p)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> int:
    store = await Store.open(database_urls(args))
    try:
        result = await seed_workspace(
            store, args.users, args.channels, args.messages, args.seed, args.team_name, _progress
        )
    except (ValueError, SlackError) as exc:
        error = exc if isinstance(exc, SlackError) else SlackError("invalid_arguments", str(exc))
        failed = {"ok": False, "error": error.code, "detail": error.detail}
        sys.stdout.write(orjson.dumps(failed).decode() + "\n")
        return 1
    finally:
        await store.close()
    sys.stdout.write(orjson.dumps({"ok": True, **result}).decode() + "\n")
    return 0
