"""An edge restarted mid-conversation, and an edge told to stop (SIGTERM)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import orjson
import websockets

from tests.conftest import ServerProcess
from tests.flannel.conftest import Stack


class Client:
    """A raw thin client that remembers its offset and resumes from it after a disconnect."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.api = stack.edge_api()  # the restarted edge comes back on the same port
        self.token = token
        self.offset: int | None = None
        self.texts: list[str] = []
        self.goodbyes = 0

    async def session(self, until: int | None = None) -> None:
        async with httpx.AsyncClient() as http:
            data = {} if self.offset is None else {"resume_from": self.offset}
            body = (
                await http.post(
                    self.api + "rtm.connect", data=data, headers={"Authorization": f"Bearer {self.token}"}
                )
            ).json()
        async with websockets.connect(body["url"]) as sock:
            async for raw in sock:
                frame: dict[str, Any] = orjson.loads(raw)
                kind = frame.get("type")
                if kind == "hello":
                    assert not frame["resync"], frame
                    if self.offset is None:
                        self.offset = frame["offset"]
                elif kind == "goodbye":
                    self.goodbyes += 1
                elif "offset" in frame:
                    self.offset = frame["offset"]
                    if kind == "message":
                        self.texts.append(frame["text"])
                        if until is not None and len(self.texts) >= until:
                            return

    async def run(self, until: int) -> None:
        while len(self.texts) < until:
            try:
                await self.session(until)
            except (OSError, websockets.WebSocketException, httpx.HTTPError, KeyError):
                await asyncio.sleep(0.2)


async def test_edge_restart_mid_conversation_loses_and_repeats_nothing(
    stack: Stack, start_server: type[ServerProcess]
) -> None:
    team = stack.team
    clients = [Client(stack, team.users[i % 3].token) for i in range(6)]
    tasks = [asyncio.create_task(c.run(30)) for c in clients]
    for _ in range(100):
        if all(c.offset is not None for c in clients):
            break
        await asyncio.sleep(0.05)
    port = stack.edges[0].port
    async with httpx.AsyncClient(base_url=stack.origin.url + "/api/") as http:
        auth = {"Authorization": f"Bearer {team.alice.token}"}
        for i in range(30):
            await http.post("chat.postMessage", json={"channel": team.general, "text": f"m{i}"}, headers=auth)
            if i == 12:
                stack.edges[0].kill()
                stack.edges.pop(0)
                await asyncio.to_thread(stack.start_edge, start_server, "local", port)
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    except TimeoutError:
        raise AssertionError([(c.offset, c.texts) for c in clients]) from None
    for client in clients:
        assert client.texts == [f"m{i}" for i in range(30)]


async def test_sigterm_sends_goodbye_to_every_client_and_exits_zero(stack: Stack) -> None:
    team = stack.team
    clients = [Client(stack, team.users[i % 3].token) for i in range(10)]
    tasks = [asyncio.create_task(c.session()) for c in clients]
    for _ in range(100):
        if all(c.offset is not None for c in clients):
            break
        await asyncio.sleep(0.05)
    edge = stack.edges[0]
    code = await asyncio.to_thread(edge.stop, signal.SIGTERM)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert code == 0
    assert [c.goodbyes for c in clients] == [1] * 10
