"""A real client that stops reading, against a real edge server (uvicorn in-process on a free
port, configured as ``flannel edge`` configures it): while events are published its session
leaves the fanout and the edge's load within the bound, and its transport is let go of; the
client resumes from its last offset either way (issue 13, defect 2)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import uvicorn
import websockets

from changelog import MemoryLog
from flannel.app import create_app
from flannel.rtm.session import Session
from flannel_cli.edge import server_config
from tests.conftest import free_port
from tests.flannel.cache import event
from tests.flannel.harness import FakeOrigin, InProcess, Lifespan, edge_over
from wire import closecodes

pytestmark = pytest.mark.e2e
TEXT = "x" * 32_000  # events big enough to fill TCP windows quickly


class Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # leave pytest's alone
        return None


@dataclass
class Live:
    env: InProcess
    server: uvicorn.Server
    port: int

    def transports(self) -> int:
        """Connections uvicorn still holds (a zombie stays here until its transport goes)."""
        return len(self.server.server_state.connections)


@asynccontextmanager
async def live_edge(**overrides: Any) -> AsyncIterator[Live]:
    origin, log, port = FakeOrigin(), MemoryLog(), free_port()
    edge = edge_over(origin.transport(), log, port=port, **overrides)
    app = create_app(edge, closers=[edge.origin.close, log.close])
    server = Server(server_config(app, edge.settings, "warning", service=None))
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started, 10)
    try:
        yield Live(InProcess(edge, Lifespan(app), origin, log), server, port)  # uvicorn runs it
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def stalled_client(port: int, path: str) -> socket.socket:
    """A socket that does the WebSocket handshake, then never reads again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # byte by byte: not one frame is read
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def message(offset: int) -> dict[str, Any]:
    return event(offset, "message", channel="C1", user="U1", text=TEXT, ts=f"1700000000.{offset:06d}")


async def publish_until(live: Live, done: Any, limit_s: float = 20.0) -> int:
    """Publish events a few at a time until ``done()``; the last offset published."""
    offset, started = 10, time.monotonic()
    while not done():
        assert time.monotonic() - started < limit_s, "never reached"
        await live.env.append(*(message(offset + i + 1) for i in range(4)))
        offset += 4
        await asyncio.sleep(0.02)
    return offset


async def until(condition: Any, wait_s: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < wait_s, "not reached in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def the_session(live: Live) -> Session:
    (session,) = live.env.edge.fanout.sessions()
    return session


async def resumes(live: Live, after: int, head: int) -> None:
    """The client comes back from its last offset and gets exactly the rest."""
    url = f"ws://127.0.0.1:{live.port}{live.env.url(resume_from=after)}"
    async with websockets.connect(url, max_size=None) as again:
        hello = orjson.loads(await again.recv())
        assert hello["type"] == "hello" and hello["resync"] is False
        offsets: list[int] = []
        while not offsets or offsets[-1] < head:
            frame = orjson.loads(await asyncio.wait_for(again.recv(), 10))
            if frame.get("type") == "message":
                offsets.append(frame["offset"])
    assert offsets == list(range(after + 1, head + 1))


async def test_a_reader_that_stalls_is_dropped_within_the_write_bound() -> None:
    async with live_edge(write_stall_s=1.0, send_queue=100_000) as live:
        sock = await stalled_client(live.port, live.env.url())
        await until(lambda: live.env.edge.connections == 1, 5)
        session = the_session(live)

        def blocked() -> bool:
            since = session.writing_since
            return since is not None and time.monotonic() - since > 0.1

        head = await publish_until(live, blocked)  # until the writer waits on a full window
        stalled_at = time.monotonic() - 0.1
        await until(lambda: live.env.edge.connections == 0, 5)
        evicted_after = time.monotonic() - stalled_at
        assert not session.queue.overflowed  # the stall bound did it, not the queue's
        assert session.close_code == closecodes.TOO_SLOW
        assert evicted_after < 1.0 + 0.5  # the bound plus one sweep
        await until(lambda: live.transports() == 0, 3)  # aborted: uvicorn lets go of it too
        sock.close()
        await resumes(live, 10, head)


async def test_a_reader_whose_queue_overflows_is_dropped_at_once() -> None:
    async with live_edge(write_stall_s=60.0, send_queue=20) as live:
        sock = await stalled_client(live.port, live.env.url())
        await until(lambda: live.env.edge.connections == 1, 5)
        session = the_session(live)
        head = await publish_until(live, lambda: session.queue.overflowed)
        overflowed_at = time.monotonic()
        await until(lambda: live.env.edge.connections == 0, 5)
        assert time.monotonic() - overflowed_at < 0.5  # not after a 60 s stall bound
        await until(lambda: live.transports() == 0, 3)
        sock.close()
        await resumes(live, head - 4, head)  # a replay this small queue can hold
