"""Through the router to real edges: slack_sdk's RTMClient, and clients that survive the death
of their edge (then of their whole region) without losing or repeating a message."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import websockets
from slack_sdk import WebClient

from tests.router.conftest import HEARTBEAT_S, Fleet
from tests.slackrtm import shut_down
from wire.http import SERVICE_HEADER

SERVICE = {SERVICE_HEADER: "dev-secret-change-me"}  # the fleet runs on the default secret


def test_slack_sdk_rtm_client_connects_through_the_router(fleet: Fleet) -> None:
    from slack_sdk.rtm_v2 import RTMClient

    us = fleet.start_edge("us")
    fleet.start_router()
    team = fleet.team
    bot_token = asyncio.run(fleet.add_bot())
    got: list[dict[str, Any]] = []
    hello = threading.Event()
    done = threading.Event()
    rtm = RTMClient(token=bot_token, base_url=fleet.api)

    @rtm.on("hello")
    def on_hello(client: RTMClient, event: dict[str, Any]) -> None:
        hello.set()

    @rtm.on("message")
    def on_message(client: RTMClient, event: dict[str, Any]) -> None:
        got.append(event)
        done.set()

    rtm.connect()  # type: ignore[no-untyped-call]
    try:
        assert hello.wait(15)
        assert rtm.wss_uri is not None and rtm.wss_uri.startswith(fleet.edges[us].url.replace("http", "ws"))
        WebClient(token=team.alice.token, base_url=fleet.origin.url + "/api/").chat_postMessage(
            channel=team.general, text="hello through the router"
        )
        assert done.wait(15)
        assert got[0]["text"] == "hello through the router" and got[0]["user"] == team.alice.id
    finally:
        shut_down(rtm)
    stats = asyncio.run(router_stats(fleet))
    assert stats["placements"] == 1 and stats["rejections"] == 0


@dataclass
class Client:
    """A thin client: keeps the offset of the last event, reconnects through the router with it."""

    fleet: Fleet
    token: str
    offset: int | None = None
    texts: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)  # every edge it held a session on, in order
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    resyncs: int = 0
    wanted: int | None = None
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, count: int) -> None:
        self.wanted = count
        if len(self.texts) >= count:
            self.caught_up.set()

    async def session(self, http: httpx.AsyncClient) -> None:
        data = {} if self.offset is None else {"resume_from": self.offset}
        resp = await http.post(
            self.fleet.api + "rtm.connect", data=data, headers={"Authorization": f"Bearer {self.token}"}
        )
        body = resp.json()
        if not body["ok"]:  # no edge (yet), or a dead one still registered: try again
            assert body["error"] == "no_edge_available", body
            return
        try:
            sock = await websockets.connect(body["url"], open_timeout=5)
        except (TimeoutError, OSError, websockets.InvalidHandshake):
            return
        self.edges.append(body["edge"]["id"])
        async with sock:
            async for raw in sock:
                frame = orjson.loads(raw)
                kind = frame.get("type")
                if kind == "hello":
                    self.resyncs += bool(frame["resync"])
                    if self.offset is None:
                        self.offset = frame["offset"]
                    self.connected.set()
                elif isinstance(frame.get("offset"), int):
                    self.offset = frame["offset"]
                    if kind == "message":
                        self.texts.append(frame["text"])
                        if self.wanted is not None:
                            self.expect(self.wanted)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set():
                try:
                    await self.session(http)
                except websockets.ConnectionClosed:
                    pass
                await asyncio.sleep(0.05)


async def run_through_kills(
    fleet: Fleet, kills: list[str], graceful: bool = False
) -> tuple[list[Client], list[str]]:
    """Nine clients; messages posted all along; the edges in ``kills`` killed (SIGKILL, or SIGTERM
    when ``graceful``) one after the other while clients hold sessions there. Returns the
    clients and the texts posted."""
    team = fleet.team
    clients = [Client(fleet, member.token) for member in team.users * 3]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 30)
    posted: list[str] = []

    async def post(http: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            text = f"m{len(posted)}"
            resp = await http.post(
                fleet.origin.url + "/api/chat.postMessage",
                data={"channel": team.general, "text": text},
                headers={"Authorization": f"Bearer {team.alice.token}"},
            )
            assert resp.json()["ok"], resp.text
            posted.append(text)
            await asyncio.sleep(0.02)

    async with httpx.AsyncClient(timeout=10) as http:
        await post(http, 10)
        for edge_id in kills:
            assert any(c.edges and c.edges[-1] == edge_id for c in clients), [c.edges for c in clients]
            edge = fleet.edges[edge_id]
            await asyncio.to_thread(edge.stop if graceful else edge.kill)
            await post(http, 30)  # while its clients come back through the router
    for client in clients:
        client.expect(len(posted))
    try:
        await asyncio.wait_for(asyncio.gather(*(c.caught_up.wait() for c in clients)), 30)
    except TimeoutError:
        pass  # the assertions say who missed what
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return clients, posted


async def router_stats(fleet: Fleet) -> dict[str, Any]:
    assert fleet.router is not None
    async with httpx.AsyncClient() as http:
        body: dict[str, Any] = (await http.get(fleet.router.url + "/internal/stats", headers=SERVICE)).json()
    return body


def assert_exactly_once(clients: list[Client], posted: list[str]) -> None:
    for client in clients:
        assert client.resyncs == 0
        duplicates = [t for t, n in Counter(client.texts).items() if n > 1]
        assert not duplicates, duplicates
        assert client.texts == posted  # every message, once, in order


async def test_clients_of_a_killed_edge_resume_on_the_survivors_of_their_region(fleet: Fleet) -> None:
    first, second = fleet.start_edge("us"), fleet.start_edge("us")
    fleet.start_edge("eu")
    fleet.start_router("--load-floor", "0")
    # nine connects of one workspace over two edges: without a load floor the bound puts
    # clients on both
    clients, posted = await run_through_kills(fleet, [first])
    assert_exactly_once(clients, posted)
    moved = [c for c in clients if first in c.edges]
    assert moved and all(c.edges[-1] == second for c in moved)  # same region, never the eu edge
    assert all(fleet.regions[e] == "us" for c in clients for e in c.edges)
    stats = await router_stats(fleet)
    assert stats["failovers"] == 0 and stats["placements"] >= len(clients) + len(moved)
    for _ in range(30):  # the dead edge's record expires within three heartbeats
        if first not in {e["id"] for e in stats["edges"]}:
            break
        await asyncio.sleep(HEARTBEAT_S / 2)
        stats = await router_stats(fleet)
    assert {e["id"] for e in stats["edges"]} == {second} | {e for e in fleet.edges if "eu" in e}


async def test_a_region_with_no_edges_left_fails_over_to_the_next(fleet: Fleet) -> None:
    only_us = fleet.start_edge("us")
    eu = fleet.start_edge("eu")
    fleet.start_router()
    clients, posted = await run_through_kills(fleet, [only_us])
    assert_exactly_once(clients, posted)
    assert all(c.edges[0] == only_us and c.edges[-1] == eu for c in clients)
    stats = await router_stats(fleet)
    assert stats["failovers"] >= len(clients)


async def test_a_draining_edge_gets_no_new_sessions(fleet: Fleet) -> None:
    leaving, staying = fleet.start_edge("us"), fleet.start_edge("us")
    fleet.start_router("--load-floor", "0")  # clients on both edges
    clients, posted = await run_through_kills(fleet, [leaving], graceful=True)
    assert_exactly_once(clients, posted)
    moved = [c for c in clients if leaving in c.edges]
    assert moved and all(c.edges[c.edges.index(leaving) + 1 :] == [staying] for c in moved)
    stats = await router_stats(fleet)
    assert stats["placements"] == len(clients) + len(moved)  # none sent to the draining edge
