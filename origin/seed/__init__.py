"""Synthetic workspaces for demos, tests and benchmarks (``flannel seed``).

A seeded workspace is realistic enough to measure against: prefix-sharing and accented
names, Zipf-sized channels, private channels, DMs and group DMs, threads, links, mentions
and reactions. It is built from a seed (the same seed gives the same people, memberships
and texts) and bulk-inserted rather than created through the per-row service functions,
which would be too slow for 32,000 users. The rows are the ones those functions write.

Seeding writes no change-log events: it is an import into a brand-new workspace that no
edge has loaded, so edges learn it from the snapshot (at offset 0), not from the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from origin.seed.chatter import make_messages
from origin.seed.generate import BIG_CHANNELS, TOKEN_USERS, Workspace, make_workspace
from origin.seed.load import load
from origin.service.auth import issue_token
from origin.service.teams import create_workspace
from origin.store.shards import Store
from wire.ids import now_us

__all__ = ["build", "seed_workspace"]


def check_sizes(users: int, channels: int, messages: int) -> None:
    if users < 1 or channels < 0 or messages < 0:
        raise ValueError("need at least 1 user, and no negative channel or message counts")
    if messages and channels == 0 and users < 3:
        raise ValueError("messages need a channel, or at least 3 users for a group DM")


def build(seed: int, team_id: str, users: int, channels: int, messages: int, now: int) -> Workspace:
    """Every row of a workspace, without touching a database."""
    check_sizes(users, channels, messages)
    ws = make_workspace(seed, team_id, users, channels, now)
    make_messages(seed, ws, messages)
    return ws


async def seed_workspace(
    store: Store,
    users: int,
    channels: int,
    messages: int,
    seed: int,
    team_name: str = "Acme",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Create a workspace and fill it; returns what ``flannel seed`` prints (minus ``ok``).

    ``tokens`` holds working tokens for the first few users; the first is an admin who is
    a member of every public channel. ``channel_ids`` names the biggest public channels.
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    check_sizes(users, channels, messages)  # before the workspace exists
    team = await create_workspace(store, team_name)
    generating = time.perf_counter()
    ws = build(seed, team["id"], users, channels, messages, now_us())
    ims = sum(1 for c in ws.conversations if c.kind == "im")
    mpims = sum(1 for c in ws.conversations if c.kind == "mpim")
    say(
        f"seed: generated {users} users, {channels} channels, {ims} DMs, {mpims} group DMs, "
        f"{len(ws.members)} memberships, {messages} messages, {len(ws.reactions)} reactions "
        f"in {time.perf_counter() - generating:.2f}s"
    )
    await load(store, ws, say)
    tokens = [
        {"user_id": uid, "name": name, "token": await issue_token(store, ws.team_id, uid)}
        for uid, name in zip(ws.user_ids[:TOKEN_USERS], ws.user_names[:TOKEN_USERS], strict=True)
    ]
    public = [c for c in ws.channels() if not c.is_private]
    return {
        "team_id": ws.team_id,
        "team": team,
        "users": users,
        "channels": channels,
        "messages": messages,
        "ims": ims,
        "mpims": mpims,
        "memberships": len(ws.members),
        "reactions": len(ws.reactions),
        "tokens": tokens,
        "channel_ids": {str(c.name): c.id for c in public[:BIG_CHANNELS]},
        "seconds": round(time.perf_counter() - started, 3),
    }
