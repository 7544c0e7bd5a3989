"""A response's writes go out as one (flannel_cli.http_protocol), under every server's
uvicorn settings (flannel_cli.serve.config): the transport wrapper on its own, then a real
uvicorn server answering keep-alive, pipelined and streamed requests and a WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
import websockets

from flannel_cli.http_protocol import SMALL, OneWrite, OneWriteHttp, QuickHttp
from flannel_cli.serve import config
from tests.conftest import free_port


class Recorder(asyncio.Transport):
    """A transport that keeps what is written to it, in order, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def close(self) -> None:
        self.events.append("close")

    def abort(self) -> None:
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return 0


async def test_the_writes_of_one_turn_are_one_write_at_its_end() -> None:
    raw = Recorder()
    wrapped = OneWrite(raw, asyncio.get_running_loop())
    wrapped.write(b"HTTP/1.1 200 OK\r\n\r\n")
    wrapped.write(memoryview(b"body"))
    assert raw.writes == [] and wrapped.get_write_buffer_size() == 23
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    wrapped.write(b"next")
    await asyncio.sleep(0)
    assert raw.writes[1:] == [b"next"]


async def test_past_small_bytes_pending_the_writes_go_at_once() -> None:
    raw = Recorder()
    wrapped = OneWrite(raw, asyncio.get_running_loop())
    big = b"x" * SMALL
    wrapped.write(big)  # alone: straight through
    assert raw.writes == [big]
    wrapped.write(b"head")
    wrapped.write(big[:-4])  # now SMALL pending: joined and sent
    assert raw.writes[1:] == [b"head" + big[:-4]]
    await asyncio.sleep(0)
    assert len(raw.writes) == 2


async def test_close_sends_what_is_pending_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    raw = Recorder()
    wrapped = OneWrite(raw, loop)
    wrapped.writelines([b"a", b"b"])
    wrapped.close()
    assert raw.writes == [b"ab"] and raw.events == ["write", "close"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert raw.writes == [b"ab"]
    other = Recorder()
    dropped = OneWrite(other, loop)
    dropped.write(b"x")
    dropped.abort()
    await asyncio.sleep(0)
    assert other.writes == [] and other.events == ["abort"]


def test_every_server_uses_it() -> None:
    cfg = config(app, "127.0.0.1", 0, "warning")
    cfg.load()
    assert cfg.http_protocol_class is QuickHttp and issubclass(QuickHttp, OneWriteHttp)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo " + message["text"]})
        await send({"type": "websocket.close"})
        return
    path = scope["path"].encode()
    if scope["path"] == "/stream":  # headers, then a body in parts with waits between
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two"):
            await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-length", b"%d" % len(path)), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": path})


async def read_until(reader: asyncio.StreamReader, count: int) -> bytes:
    got = b""
    while got.count(b"HTTP/1.1 200") < count or not got.endswith((b"/a", b"/b", b"/c", b"0\r\n\r\n")):
        got += await asyncio.wait_for(reader.read(65536), 5)
    return got


async def test_a_real_server_answers_keep_alive_pipelined_streamed_and_websocket() -> None:
    port = free_port()
    server = uvicorn.Server(config(app, "127.0.0.1", port, "warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn's server has no event for it)
        await asyncio.sleep(0.01)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        first = await read_until(reader, 1)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n/a")
        writer.write(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\nGET /c HTTP/1.1\r\nHost: t\r\n\r\n")
        both = await read_until(reader, 2)
        assert both.count(b"HTTP/1.1 200 OK") == 2 and both.index(b"\r\n/b") < both.index(b"\r\n/c")
        writer.write(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        streamed = await read_until(reader, 1)
        assert b"transfer-encoding: chunked" in streamed and b"4\r\none \r\n3\r\ntwo\r\n0\r\n\r\n" in streamed
        writer.close()
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("hi")
            assert await asyncio.wait_for(ws.recv(), 5) == "echo hi"
    finally:
        server.should_exit = True
        await serving
