"""``/rtm`` under a real uvicorn edge, configured as ``flannel edge`` configures it (the access
log wrapping the app, :class:`flannel.transport.DroppableWebSockets`): served outside
Starlette's middleware stack, with the protocol's lean inbox and ``writable`` flag, the
handshake's request, headers and query string let go once accepted, and everything a client
and an operator see unchanged: the hello, ping/pong, replies, the access line with the close
code, the connection gauge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import websockets
from starlette.types import ASGIApp, Receive, Scope, Send

from changelog import MemoryLog
from flannel.app import create_app
from flannel.transport import DroppableWebSockets, _Inbox, _Writable
from flannel_cli.edge import server_config
from tests.conftest import free_port
from tests.flannel.harness import FakeOrigin, InProcess, Lifespan, edge_over
from tests.flannel.test_stalled_reader_e2e import Live, Server, until
from wire import closecodes

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def edge_server() -> AsyncIterator[Live]:
    origin, log, port = FakeOrigin(), MemoryLog(), free_port()
    edge = edge_over(origin.transport(), log, port=port)
    app = create_app(edge, closers=[edge.origin.close, log.close])
    server = Server(server_config(app, edge.settings, "warning", service="edge"))  # AccessLog on
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started, 10)
    try:
        yield Live(InProcess(edge, Lifespan(app), origin, log), server, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def frame_of(client: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = orjson.loads(await asyncio.wait_for(client.recv(), 10))
        if frame.get("type") == kind:
            return frame  # type: ignore[no-any-return]


async def test_rtm_behind_the_access_log_keeps_little_and_behaves_the_same(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="flannel.edge.access")
    async with edge_server() as live:
        url = f"ws://127.0.0.1:{live.port}{live.env.url()}"
        async with websockets.connect(url) as client:
            hello = orjson.loads(await asyncio.wait_for(client.recv(), 10))
            assert hello["type"] == "hello" and hello["self"]["id"] == "U2"
            (protocol,) = live.server.server_state.connections
            assert isinstance(protocol, DroppableWebSockets)
            assert isinstance(protocol.queue, _Inbox) and isinstance(protocol.writable, _Writable)
            assert "request" not in vars(protocol) and "response" not in vars(protocol)
            assert protocol.scope["headers"] == [] and protocol.scope["query_string"] == b""
            assert protocol.scope["path"] == "/rtm"  # the access log's
            assert live.env.edge.connections == 1

            await client.send(orjson.dumps({"id": 7, "type": "ping", "time": 5}).decode())
            pong = await frame_of(client, "pong")
            assert pong["reply_to"] == 7 and pong["time"] == 5
            await client.send(orjson.dumps({"id": 8, "type": "no_such_frame"}).decode())
            reply = await frame_of(client, "error")
            assert reply["reply_to"] == 8 and reply["error"]["code"] == "unknown_type"
            assert protocol.queue.empty() and protocol.queue._getters is not None  # the reader waits
        await until(lambda: live.env.edge.connections == 0, 10)
        await until(lambda: any(r.getMessage() == "WS /rtm" for r in caplog.records), 10)
    (line,) = [r for r in caplog.records if r.getMessage() == "WS /rtm"]
    assert line.status == closecodes.NORMAL and line.ms >= 0  # type: ignore[attr-defined]


async def test_a_refused_ticket_still_closes_with_its_code_through_the_server() -> None:
    async with edge_server() as live:
        url = f"ws://127.0.0.1:{live.port}/rtm?ticket=not-a-ticket"
        async with websockets.connect(url) as client:
            refusal = orjson.loads(await asyncio.wait_for(client.recv(), 10))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 10)
        assert refusal["type"] == "error"
        assert closed.value.rcvd is not None and closed.value.rcvd.code >= 4000


class Seen:
    """A middleware that notes the WebSocket scopes it sees."""

    paths: list[str] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            Seen.paths.append(scope["path"])
        await self.app(scope, receive, send)


async def test_middleware_added_to_the_app_puts_rtm_back_behind_it() -> None:
    origin, log = FakeOrigin(), MemoryLog()
    edge = edge_over(origin.transport(), log)
    app = create_app(edge, closers=[edge.origin.close, log.close])
    app.add_middleware(Seen)
    Seen.paths.clear()
    async with Lifespan(app) as served:
        env = InProcess(edge, served, origin, log)
        async with env.ws(env.url()) as ws:
            hello = await ws.next_of("hello")
            assert hello["self"]["id"] == "U2"
    assert Seen.paths == ["/rtm"]
