"""A scripted edge for unit tests: ``rtm.connect`` over httpx's MockTransport, and sockets
that play a list of frames, then close with a given code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from client_sdk.cache import Directory
from client_sdk.dispatch import EventBus
from client_sdk.http import WebApi
from client_sdk.policy import Backoff
from client_sdk.session import Session
from client_sdk.sockets import RtmSocket, SocketClosed

JSON = dict[str, Any]
Reply = Callable[[JSON], JSON | None]


class ScriptedSocket:
    """Plays ``frames`` (dicts, or a SocketClosed to end with); records what the client sent."""

    def __init__(self, frames: list[JSON | SocketClosed], reply: Reply | None = None) -> None:
        self.incoming: asyncio.Queue[JSON | SocketClosed] = asyncio.Queue()
        for frame in frames:
            self.incoming.put_nowait(frame)
        self.sent: list[JSON] = []
        self.reply = reply

    def push(self, frame: JSON | SocketClosed) -> None:
        self.incoming.put_nowait(frame)

    async def send(self, text: str) -> None:
        frame = orjson.loads(text)
        self.sent.append(frame)
        if self.reply is not None:
            answer = self.reply(frame)
            if answer is not None:
                self.push(answer)

    async def recv(self) -> str | bytes:
        item = await self.incoming.get()
        if isinstance(item, SocketClosed):
            self.incoming.put_nowait(item)  # closed stays closed
            raise item
        return orjson.dumps(item).decode()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.push(SocketClosed(code, reason))


def hello(offset: int, resync: bool = False, resume_from: int | None = None, **extra: Any) -> JSON:
    return {
        "type": "hello",
        "self": {"id": "UME", "name": "me"},
        "team": {"id": "T1", "name": "Team"},
        "channels": [{"id": "C1", "name": "general"}],
        "offset": offset,
        "resync": resync,
        "resume_from": resume_from,
        **extra,
    }


def message(offset: int, text: str | None = None, user: str = "U2", channel: str = "C1") -> JSON:
    return {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text or f"m{offset}",
        "ts": f"{1000 + offset}.000100",
        "offset": offset,
    }


class FakeEdge:
    """Scripted discovery answers and sockets, consumed in order; records every request."""

    def __init__(self) -> None:
        self.discovery: list[httpx.Response] = []
        self.sockets: list[ScriptedSocket | Exception] = []  # an exception: the connect fails
        self.connects: list[JSON] = []
        self.http_calls: list[tuple[str, JSON]] = []
        self.http_hosts: list[str] = []
        self.dead_hosts: set[str] = set()  # HTTP calls there fail to connect
        self.http_called = asyncio.Event()
        self.sleeps: list[float] = []
        self.opened: list[ScriptedSocket] = []
        self.api: dict[str, JSON | list[JSON]] = {}

    def ok(self, n: int = 1, edges: list[str] | None = None) -> None:
        """``n`` placements on the edge ``edge``, or one on each of ``edges`` (answers naming
        the edge, as the router's do, at ``http://<edge id>/api/``)."""
        for i, edge_id in enumerate(edges or [None] * n):
            host = edge_id or "edge"
            body: JSON = {
                "ok": True,
                "url": f"ws://{host}/rtm?ticket={i}",
                "api_url": f"http://{host}/api/",
                "self": {"id": "UME", "name": "me"},
                "team": {"id": "T1"},
            }
            if edge_id:
                body["edge"] = {"id": edge_id, "region": "eu"}
            self.discovery.append(httpx.Response(200, json=body))

    def handler(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        args = orjson.loads(request.content or b"{}")
        if method == "rtm.connect":
            self.connects.append(args)
            if not self.discovery:
                return httpx.Response(503, json={"ok": False, "error": "service_unavailable"})
            return self.discovery.pop(0)
        self.http_calls.append((method, args))
        self.http_hosts.append(request.url.host)
        self.http_called.set()
        if request.url.host in self.dead_hosts:
            raise httpx.ConnectError("connection refused", request=request)
        answer = self.api.get(method, {"ok": True})
        if isinstance(answer, list):  # one answer per call, the last one kept
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return httpx.Response(200, json=answer)

    async def connector(self, url: str) -> RtmSocket:
        socket = self.sockets.pop(0)
        if isinstance(socket, Exception):
            raise socket
        self.opened.append(socket)
        return socket

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    def session(self, directory: Directory | None = None, **kwargs: Any) -> tuple[Session, EventBus]:
        bus = EventBus()
        web = WebApi("xoxp-test", transport=httpx.MockTransport(self.handler), sleep=self.sleep)
        session = Session(
            router_url="http://router",
            region="eu",
            web=web,
            connector=self.connector,
            directory=directory or Directory(),
            bus=bus,
            backoff=Backoff(base=0.1, cap=1.0, rand=lambda: 0.5),
            sleep=self.sleep,
            hello_timeout=2,
            timeout=2,
            **kwargs,
        )
        return session, bus
