"""The edge over the real origin app, both in this process (httpx's ASGI transport between them,
one in-memory change log, SQLite): writes through the edge come back as events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from changelog import MemoryLog
from flannel.app import create_app
from origin.app import create_app as create_origin
from origin.settings import OriginSettings
from origin.store.shards import Store
from tests.factories import Team, make_team
from tests.flannel.harness import SECRET, Lifespan, WebSocketClient, edge_over
from wire import closecodes


@dataclass
class Both:
    edge: Lifespan
    team: Team
    origin: Any  # the origin's app (its state: the endpoints and their counters)

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def connect(self, token: str) -> WebSocketClient:
        async with self.edge.http() as http:
            answer = (await http.post("/api/rtm.connect", headers=self.auth(token))).json()
        assert answer["ok"], answer
        url = urlsplit(answer["url"])
        return WebSocketClient(self.edge, f"{url.path}?{url.query}")


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[Both]:
    store = await Store.open([f"sqlite:///{tmp_path}/origin.db"])
    team = await make_team(store)
    log = MemoryLog()
    origin_app = create_origin(OriginSettings(database_urls=[], secret=SECRET), store=store, changelog=log)
    try:
        async with Lifespan(origin_app) as origin:
            edge = edge_over(httpx.ASGITransport(app=origin), log)
            async with Lifespan(create_app(edge, closers=[edge.origin.close])) as served:
                yield Both(served, team, origin_app)
    finally:
        await log.close()
        await store.close()


async def test_reads_from_memory_and_writes_through_the_origin(both: Both) -> None:
    team = both.team
    async with both.edge.http() as http:
        auth = both.auth(team.alice.token)
        listed = (await http.post("/api/users.list", headers=auth)).json()
        posted = (
            await http.post(
                "/api/chat.postMessage", json={"channel": team.general, "text": "hi"}, headers=auth
            )
        ).json()
        history = (
            await http.post("/api/conversations.history", data={"channel": team.general}, headers=auth)
        ).json()
    assert {u["name"] for u in listed["members"]} >= {"alice", "bob", "carol"}
    assert posted["ok"] and history["messages"][0]["ts"] == posted["ts"]


async def test_a_message_sent_over_one_connection_reaches_the_members_of_the_channel(both: Both) -> None:
    team = both.team
    async with (
        await both.connect(team.alice.token) as alice,
        await both.connect(team.bob.token) as bob,
        await both.connect(team.carol.token) as carol,
    ):
        for client in (alice, bob, carol):
            await client.next_of("hello")
        await alice.send({"id": 1, "type": "message", "channel": team.private, "text": "secret"})
        await alice.send({"id": 2, "type": "message", "channel": team.general, "text": "public"})
        replies = [await alice.next_of("message", 10), await alice.next_of("message", 10)]
        bobs = [await bob.next_of("message", 10), await bob.next_of("message", 10)]
        carols = await carol.next_of("message", 10)
    assert [m["text"] for m in bobs] == ["secret", "public"]
    assert [m["text"] for m in replies] == ["secret", "public"]  # the sender hears its own too
    assert carols["text"] == "public"


async def test_a_token_revoked_at_the_origin_closes_its_connection_and_its_calls(both: Both) -> None:
    team = both.team
    async with await both.connect(team.carol.token) as carol:
        await carol.next_of("hello")
        async with both.edge.http() as http:
            revoked = (await http.post("/api/auth.revoke", headers=both.auth(team.carol.token))).json()
            await carol.until_closed(10)
            after = (await http.post("/api/users.list", headers=both.auth(team.carol.token))).json()
    assert revoked["ok"] and carol.close_code == closecodes.TOKEN_REVOKED
    assert after == {"ok": False, "error": "token_revoked"}


async def test_connecting_users_manual_away_is_asked_for_in_one_batch(both: Both) -> None:
    """A connect storm's presence lookups: the users connecting at once are asked for together
    (``/internal/presence/manual``), not with one ``users.getPresence`` each."""
    team = both.team
    async with both.edge.http() as http:
        auth = both.auth(team.bob.token)
        away = await http.post("/api/users.setPresence", headers=auth, data={"presence": "away"})
    assert away.json()["ok"]
    endpoint = both.origin.state.origin.manual_away
    before = endpoint.calls
    sockets = [await both.connect(m.token) for m in (team.alice, team.bob, team.carol)]
    async with sockets[0] as alice, sockets[1] as bob, sockets[2] as carol:
        for ws in (alice, bob, carol):
            await ws.next_of("hello")
        want = {team.bob.id: "away", team.carol.id: "active"}
        for query in range(1, 60):  # presence is applied in rounds (a 250 ms window)
            await alice.send({"id": query, "type": "presence_query", "ids": list(want)})
            while (answer := await alice.recv()).get("reply_to") != query:
                pass
            if answer["presence"] == want:
                break
            await asyncio.sleep(0.1)
        assert answer["presence"] == want
    assert 1 <= endpoint.calls - before <= 3  # at most one per connect; batched when together
