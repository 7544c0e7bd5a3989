"""A minimal WebSocket client (RFC 6455) for holding thousands of connections in one process.

A ``websockets`` client costs a task, buffers and a full frame parser per connection, which
on one client core would cap how many deliveries per second the benchmark can observe. This
one is an ``asyncio.Protocol``: handshake, unmasked server frames in, masked frames out,
pongs for pings, and a callback per text frame. Nothing is decoded unless the caller does.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


class WsError(Exception):
    """The handshake was refused or the connection closed before it was usable."""


def _mask(payload: bytes) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return key + (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _mask(payload)


class WsClient(asyncio.Protocol):
    """One connection. ``first`` resolves with the first text frame (the hello); every later
    text frame goes to ``on_text``; ``closed`` resolves with the close code."""

    def __init__(self, on_text: Callable[[bytes], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.first: asyncio.Future[bytes] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()
        self.frames = 0
        self.received_bytes = 0
        self._partial = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.upgraded, self.first):
            if not fut.done():
                fut.set_exception(WsError(f"connection lost: {exc}"))
                fut.exception()  # awaiting it still raises; unawaited (a control socket's hello) is no error
        if not self.closed.done():
            self.closed.set_result(1006)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[9:12])
            if status != b"101":
                self.upgraded.set_exception(WsError(f"handshake refused: {bytes(self.buf[:end])!r}"))
                self.close()
                return
            del self.buf[: end + 4]
            self.upgraded.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < at + n:
                return
            payload = bytes(buf[at : at + n])
            del buf[: at + n]
            self._handle(b0 & 0x80, b0 & 0x0F, payload)

    def _handle(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            self.send(PONG, payload)
        elif opcode == CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if not self.closed.done():
                self.closed.set_result(code)
            self.close()
        elif opcode in (TEXT, BINARY, 0):
            self._partial += payload
            if not fin:
                return
            data, self._partial = bytes(self._partial), bytearray()
            self.frames += 1
            self.received_bytes += len(data)
            if not self.first.done():
                self.first.set_result(data)
            elif self.on_text is not None:
                self.on_text(data)

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(opcode, payload))

    def send_text(self, payload: bytes) -> None:
        self.send(TEXT, payload)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(CLOSE, struct.pack("!H", 1000)))
            self.transport.close()


async def connect(url: str, on_text: Callable[[bytes], None] | None = None) -> WsClient:
    """Open ``ws://host:port/path?query`` and wait for the upgrade (not for the hello); callers
    bound the time with ``asyncio.timeout``."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: WsClient(on_text), parts.hostname or "127.0.0.1", parts.port or 80
    )
    assert client.transport is not None
    client.transport.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await client.upgraded
    return client
