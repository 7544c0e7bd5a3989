"""Read state end to end: a real origin (SQLite, or MariaDB with two shards), Redis and two
edges; the official slack_sdk (conversations_info, conversations_mark) and raw WebSockets
(the hello's counts; the mark reaching the user's second connection, on the other edge)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from slack_sdk import WebClient

from origin.store.shards import Store
from tests.conftest import ServerProcess, free_port
from tests.factories import make_team
from tests.flannel.conftest import Stack
from tests.flannel.test_slack_clients_e2e import connect, next_of

pytestmark = pytest.mark.e2e


@pytest.fixture
async def two_edges(
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
    s.start_edge(start_server)
    try:
        yield s
    finally:
        await store.close()


def test_counts_in_hello_info_and_marks_across_edges(two_edges: Stack) -> None:
    s, team = two_edges, two_edges.team
    bob = WebClient(token=team.bob.token, base_url=s.edge_api(0))
    alice = WebClient(token=team.alice.token, base_url=s.edge_api(0))
    first = bob.chat_postMessage(channel=team.general, text=f"hey <@{team.alice.id}>")["ts"]
    second = bob.chat_postMessage(channel=team.general, text="and more")["ts"]

    async def scenario() -> dict[str, Any]:
        here = await connect(s, team.alice.token, 0)
        there = await connect(s, team.alice.token, 1)
        eve = await connect(s, team.bob.token, 1)
        try:
            hellos = [await next_of(sock, "hello") for sock in (here, there, eve)]
            for hello in hellos[:2]:
                general = next(c for c in hello["channels"] if c["id"] == team.general)
                assert (general["unread_count_display"], general["mention_count"]) == (2, 1)
                assert general["latest"]["ts"] == second and general["latest"]["user"] == team.bob.id
                assert general["has_unreads"] and general["last_read"] == "0.000000"
            info = await asyncio.to_thread(alice.conversations_info, channel=team.general)
            assert info["channel"]["unread_count"] == 2 and info["channel"]["unread_count_display"] == 2
            assert info["channel"]["latest"]["ts"] == second
            marked = await asyncio.to_thread(alice.conversations_mark, channel=team.general, ts=first)
            assert marked["ok"]
            got = await next_of(there, "channel_marked")
            await next_of(here, "channel_marked")
            bob_post = await asyncio.to_thread(bob.chat_postMessage, channel=team.general, text="next")
            seen: list[dict[str, Any]] = []  # bob hears his post, and never alice's mark
            while not seen or seen[-1].get("type") != "message":
                seen.append(orjson.loads(await asyncio.wait_for(eve.recv(), 10)))
            assert seen[-1]["ts"] == bob_post["ts"]
            assert not [f for f in seen if str(f.get("type")).endswith("_marked")]
            return got
        finally:
            for sock in (here, there, eve):
                await sock.close()

    got = asyncio.run(scenario())
    assert got["channel"] == team.general and got["ts"] == first
    assert (got["unread_count_display"], got["mention_count"]) == (1, 0)
    after = alice.conversations_info(channel=team.general)["channel"]
    assert after["last_read"] == first and after["unread_count_display"] >= 1
    counts = alice.api_call("client.counts")
    general = next(c for c in counts["channels"] if c["id"] == team.general)
    assert general["last_read"] == first and general["mention_count"] == 0
