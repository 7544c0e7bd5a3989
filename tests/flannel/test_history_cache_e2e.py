"""``conversations.history`` from the edge's memory, over the real origin (both in this process,
one in-memory change log, SQLite): after every kind of change the edge answers exactly what the
origin answers, and private history reaches members only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from changelog import MemoryLog
from flannel.app import create_app
from flannel.edge import Edge
from origin.app import create_app as create_origin
from origin.settings import OriginSettings
from origin.store.shards import Store
from tests.factories import Team, make_team
from tests.flannel.harness import SECRET, Lifespan, WebSocketClient, edge_over


@dataclass
class Both:
    edge: Edge
    served: Lifespan
    origin: Lifespan
    team: Team
    log: MemoryLog

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def call(self, token: str, method: str, **args: Any) -> dict[str, Any]:
        async with self.served.http() as http:
            answer: dict[str, Any] = (
                await http.post(f"/api/{method}", data=args, headers=self.auth(token))
            ).json()
        return answer

    async def at_origin(self, token: str, channel: str, limit: int = 40) -> dict[str, Any]:
        async with self.origin.http("http://origin.test") as http:
            answer = await http.post(
                "/api/conversations.history",
                data={"channel": channel, "limit": limit},
                headers=self.auth(token),
            )
        found: dict[str, Any] = answer.json()
        return found

    async def history(self, token: str, channel: str, limit: int = 40) -> dict[str, Any]:
        return await self.call(token, "conversations.history", channel=channel, limit=str(limit))

    async def settled(self) -> None:
        """Until the edge's copy has applied every event the origin logged."""
        head = await self.log.last_offset(self.team.id)
        await self.edge.cache.wait_until(self.team.id, lambda ws: ws.offset >= head, 5.0)

    async def same_as_origin(self, writer: str, reader: str, channel: str) -> dict[str, Any]:
        """After ``writer`` changed something: its own next read is the origin's (a write
        committed by group commit says no offset to wait for); once the edge applied the
        event, ``reader``'s is kept and then served from memory; all equal the origin's."""
        origin = await self.at_origin(writer, channel)
        assert await self.history(writer, channel) == origin
        await self.settled()
        hits = self.edge.history.stats.hits
        first = await self.history(reader, channel)  # kept (or already kept)
        served = await self.history(reader, channel)
        assert self.edge.history.stats.hits > hits  # the second, at least, came from memory
        assert first == served == origin == await self.at_origin(reader, channel)
        return served

    async def connect(self, token: str) -> WebSocketClient:
        answer = await self.call(token, "rtm.connect")
        url = urlsplit(answer["url"])
        return WebSocketClient(self.served, f"{url.path}?{url.query}")


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
                yield Both(edge, served, origin, team, log)
    finally:
        await log.close()
        await store.close()


async def test_every_change_to_a_channel_reaches_its_kept_page(both: Both) -> None:
    team, alice, bob = both.team, both.team.alice.token, both.team.bob.token
    posted = [
        await both.call(alice, "chat.postMessage", channel=team.general, text=f"m{i}") for i in range(3)
    ]
    page = await both.same_as_origin(alice, bob, team.general)
    assert [m["text"] for m in page["messages"]] == ["m2", "m1", "m0"]

    first, last = posted[0]["ts"], posted[2]["ts"]
    await both.call(alice, "reactions.add", channel=team.general, timestamp=first, name="tada")
    page = await both.same_as_origin(alice, bob, team.general)
    assert page["messages"][-1]["reactions"][0]["name"] == "tada"

    await both.call(alice, "chat.update", channel=team.general, ts=first, text="m0, edited")
    page = await both.same_as_origin(alice, bob, team.general)
    assert page["messages"][-1]["text"] == "m0, edited"

    reply = await both.call(alice, "chat.postMessage", channel=team.general, text="in thread", thread_ts=last)
    page = await both.same_as_origin(alice, bob, team.general)
    parent = page["messages"][0]
    assert parent["reply_count"] == 1 and parent["latest_reply"] == reply["ts"]

    await both.call(alice, "reactions.remove", channel=team.general, timestamp=first, name="tada")
    await both.call(alice, "pins.add", channel=team.general, timestamp=last)
    page = await both.same_as_origin(alice, bob, team.general)
    assert "reactions" not in page["messages"][-1] and page["pin_count"] == 1

    await both.call(alice, "chat.delete", channel=team.general, ts=reply["ts"])
    await both.call(alice, "chat.delete", channel=team.general, ts=first)
    page = await both.same_as_origin(alice, bob, team.general)
    assert [m["text"] for m in page["messages"]] == ["m2", "m1"]
    assert page["messages"][0].get("reply_count", 0) == 0


async def test_private_history_from_memory_reaches_members_only(both: Both) -> None:
    team = both.team
    await both.call(team.alice.token, "chat.postMessage", channel=team.private, text="secret")
    page = await both.same_as_origin(team.alice.token, team.bob.token, team.private)  # kept, for a member
    assert [m["text"] for m in page["messages"]] == ["secret"]
    alices = await both.history(team.alice.token, team.private)  # the other member
    assert alices == page
    hits = both.edge.history.stats.hits
    carols = await both.history(team.carol.token, team.private)
    assert carols == {"ok": False, "error": "channel_not_found"}
    assert both.edge.history.stats.hits == hits  # not asked of the cache at all

    async with await both.connect(team.carol.token) as carol:
        await carol.next_of("hello")
        await carol.send(
            {"id": 1, "type": "query", "method": "conversations.history", "args": {"channel": team.private}}
        )
        while "reply_to" not in (answer := await carol.recv()):
            pass
    assert answer["ok"] is False and "messages" not in answer


async def test_a_websocket_query_is_answered_from_the_same_page(both: Both) -> None:
    team = both.team
    await both.call(team.alice.token, "chat.postMessage", channel=team.general, text="hello")
    page = await both.same_as_origin(team.alice.token, team.carol.token, team.general)
    hits = both.edge.history.stats.hits
    async with await both.connect(team.bob.token) as bob:
        await bob.next_of("hello")
        args = {"channel": team.general, "limit": 40}
        await bob.send({"id": 7, "type": "query", "method": "conversations.history", "args": args})
        seen = []
        while (answer := await bob.recv()).get("reply_to") != 7:
            seen.append(answer)
        await bob.send({"id": 8, "type": "query", "method": "conversations.history", "args": args})
        again = []
        while (second := await bob.recv()).get("reply_to") != 8:
            again.append(second)
    assert both.edge.history.stats.hits == hits + 2
    assert {k: v for k, v in answer.items() if k != "reply_to"} == page
    assert second == answer | {"reply_to": 8}
    # the page's author, whom bob's connection was not sent, came just ahead of it, once
    infos = [f for f in seen if f.get("type") == "user_info"]
    assert [[u["id"] for u in f["users"]] for f in infos] == [[team.alice.id]]
    assert not [f for f in again if f.get("type") == "user_info"]


async def test_other_pages_go_to_the_origin(both: Both) -> None:
    team, alice = both.team, both.team.alice.token
    for i in range(3):
        await both.call(alice, "chat.postMessage", channel=team.general, text=f"m{i}")
    newest = await both.history(alice, team.general, 2)
    assert newest["has_more"] is True
    cursor = newest["response_metadata"]["next_cursor"]
    kept = len(both.edge.history)
    older = await both.call(alice, "conversations.history", channel=team.general, limit="2", cursor=cursor)
    assert [m["text"] for m in older["messages"]] == ["m0"]
    assert len(both.edge.history) == kept  # a cursor's page is not kept
