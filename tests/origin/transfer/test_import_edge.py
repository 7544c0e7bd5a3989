"""After an import, edges see it: a warm edge through the change log (every imported item is
logged), a cold one through its snapshot: the imported users, channels and messages
(``conversations.history``), and read state that starts read (the import's memberships are
marked at their newest message: history is not news)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk import WebClient

from origin.service.auth import issue_token
from origin.store.shards import Store
from origin.transfer.importer import import_export
from tests.conftest import ServerProcess, free_port
from tests.factories import make_team
from tests.flannel.conftest import Stack
from tests.origin.transfer.test_archive import SAMPLE

pytestmark = pytest.mark.e2e


@pytest.fixture
async def stack(
    start_server: type[ServerProcess], database_urls: list[str], redis_url: str, redis_prefix: str
) -> AsyncIterator[Stack]:
    store = await Store.open(database_urls)
    team = await make_team(store)
    other = await make_team(store, ("dave", "erin", "frank"))
    args = ["origin", "--log-level", "warning", "--redis-url", redis_url, "--redis-prefix", redis_prefix]
    for url in database_urls:
        args += ["--database-url", url]
    origin = start_server(args, free_port()).start()
    s = Stack(origin, [], store, team, other, redis_url, redis_prefix, database_urls)
    s.start_edge(start_server)
    try:
        yield s
    finally:
        await store.close()


def counts_of(client: WebClient, channel: str) -> dict[str, Any] | None:
    got = client.api_call("client.counts")
    return next((c for c in got["channels"] if c["id"] == channel), None)


def eventually(probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


async def _import(store: Store, team_id: str) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    _, report = await import_export(store, SAMPLE, team_id)
    assert report.imported["message"] == 158
    async with store.read(team_id) as conn:
        users = {
            str(n): str(i)
            for i, n in await conn.fetchall("SELECT id, name FROM users WHERE team_id = ?", [team_id])
        }
        chans = await conn.fetchall(
            "SELECT id, name FROM conversations WHERE team_id = ? AND name IN (?, ?)",
            [team_id, "enrique", "traveling-sailor"],
        )
        per = await conn.fetchall(
            "SELECT channel_id, COUNT(*) FROM messages WHERE team_id = ? AND (thread_ts IS NULL OR "
            "thread_ts = ts OR subtype = 'thread_broadcast') GROUP BY channel_id",
            [team_id],
        )
    return users, {str(n): str(i) for i, n in chans}, {str(c): int(k) for c, k in per}  # fmt: skip


async def test_warm_and_cold_edges_see_the_import(stack: Stack, start_server: type[ServerProcess]) -> None:
    s, team = stack, stack.team
    alice = WebClient(token=team.alice.token, base_url=s.edge_api(0))
    assert (await asyncio.to_thread(alice.auth_test))["ok"]  # the edge holds the workspace first
    users, channels, per_channel = await _import(s.store, team.id)
    token = await issue_token(s.store, team.id, users["hamza"])
    s.start_edge(start_server)  # a cold edge, after the import
    await asyncio.to_thread(check, s, token, users, channels, per_channel)


def check(
    s: Stack, token: str, users: dict[str, str], channels: dict[str, str], per_channel: dict[str, int]
) -> None:
    for edge in (0, 1):
        hamza = WebClient(token=token, base_url=s.edge_api(edge))
        enrique = eventually(lambda c=hamza: counts_of(c, channels["enrique"]))
        assert enrique is not None, f"edge {edge} never saw the imported channel"
        sailor = counts_of(hamza, channels["traveling-sailor"])
        assert sailor is not None
        for got in (enrique, sailor):
            assert got["latest"] is not None and got["last_read"] == got["latest"]
            assert (got["unread_count"], got["mention_count"], got["has_unreads"]) == (0, 0, False)
        for name, channel_id in channels.items():
            history: list[dict[str, Any]] = []
            cursor = None
            while True:
                page = hamza.conversations_history(channel=channel_id, limit=200, cursor=cursor)
                history += page["messages"]
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            assert len(history) == per_channel[channel_id] > 40, name  # replies stay in their threads
            assert {m.get("user") for m in history} <= set(users.values()) | {None}
        info = hamza.users_info(user=users["abilinski"])
        assert info["user"]["name"] == "abilinski"
        listed = {c["name"] for c in hamza.conversations_list(types="public_channel")["channels"]}
        assert {"enrique", "traveling-sailor"} <= listed
