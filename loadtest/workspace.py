"""Workspaces to measure against: seeded in bulk, with as many working tokens as clients.

``seed_workspace`` issues five tokens; a fanout or storm phase needs thousands. They are
inserted here in one transaction, the same rows ``issue_token`` writes (hash, team, user),
for the same reason the seeder bulk-inserts: per-row service calls would dominate the run.
Throwaway databases and Redis prefixes are removed by :func:`drop_databases` and
:func:`delete_prefix`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from origin.seed import seed_workspace
from origin.store.shards import Store
from wire.ids import now_us
from wire.tokens import token_hash as hash_token


@dataclass
class Person:
    id: str
    name: str
    real_name: str
    email: str


@dataclass
class Seeded:
    """A seeded workspace: its people (in id order) and one token per client that needs one."""

    team_id: str
    users: int
    general: str
    tokens: list[str]  # the seeder's: tokens[0] is the admin, tokens[1] a typical user
    people: list[Person] = field(default_factory=list)
    client_tokens: list[str] = field(default_factory=list)  # for the users in client_users
    client_users: list[str] = field(default_factory=list)


async def seed(
    store: Store, users: int, channels: int, messages: int, name: str, progress: Callable[[str], None]
) -> Seeded:
    done = await seed_workspace(store, users, channels, messages, seed=1, team_name=name, progress=progress)
    team_id = str(done["team_id"])
    return Seeded(
        team_id,
        users,
        str(done["channel_ids"]["general"]),
        [t["token"] for t in done["tokens"]],
        await people(store, team_id),
    )


async def people(store: Store, team_id: str) -> list[Person]:
    async with store.read(team_id) as conn:
        rows = await conn.fetchall(
            "SELECT id, name, real_name, email FROM users WHERE team_id = ? AND deleted = 0 ORDER BY id",
            [team_id],
        )
    return [Person(str(r[0]), str(r[1]), str(r[2] or ""), str(r[3] or "")) for r in rows]


async def issue_tokens(store: Store, ws: Seeded, count: int) -> None:
    """Give ``count`` users (not the seeder's token users) a token each, in one transaction."""
    seeded = {t.split("-")[2] for t in ws.tokens}
    chosen = [p.id for p in ws.people if p.id not in seeded][:count]
    tokens = [f"xoxp-{ws.team_id}-{uid}-{secrets.token_hex(16)}" for uid in chosen]
    rows = [(hash_token(t), ws.team_id, uid, now_us()) for t, uid in zip(tokens, chosen, strict=True)]
    async with store.write(ws.team_id) as tx:
        for i in range(0, len(rows), 1000):
            await tx.conn.executemany(
                "INSERT INTO tokens (token_hash, team_id, user_id, created) VALUES (?, ?, ?, ?)",
                rows[i : i + 1000],
            )
    ws.client_tokens, ws.client_users = tokens, chosen


async def drop_databases(urls: list[str]) -> None:
    from origin.store.mysql import drop_database
    from origin.store.urls import mysql_params

    for url in urls:
        if url.startswith("mysql"):
            await drop_database(mysql_params(url))


async def delete_prefix(redis_url: str, prefix: str) -> int:
    import redis.asyncio as redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
        return len(keys)
    finally:
        await client.aclose()
