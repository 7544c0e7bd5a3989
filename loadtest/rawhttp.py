"""A minimal keep-alive HTTP/1.1 client for load generation.

httpx costs more CPU per request than a bare Starlette endpoint does to answer it, so with one
client core it would measure itself. This client sends one request at a time per connection
and reads ``Content-Length`` bodies (what uvicorn sends for every JSON answer measured here),
straight from an ``asyncio.Protocol``: a few microseconds of Python per request.
"""

from __future__ import annotations

import asyncio
from typing import cast
from urllib.parse import urlencode, urlsplit


class HttpError(Exception):
    """A connection closed early or an answer this client cannot read."""


def request(
    method: str,
    url_path: str,
    token: str | None = None,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The bytes of one request; ``form`` becomes the query (GET) or a form body (POST)."""
    body = b""
    path = url_path
    if form and method == "GET":
        path += ("&" if "?" in path else "?") + urlencode(form)
    elif form:
        body = urlencode(form).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection; :meth:`send` one request and await ``(status, body)``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.status = 0
        self.head_end = -1
        self.length = -1
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._check()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(f"connection lost: {exc}"))

    def _check(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        if self.head_end < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self.waiter.set_exception(HttpError("no content-length in the answer"))
                return
            line_end = head.find(b"\r\n", at + 2)
            self.length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
            self.head_end = end + 4
        if len(self.buf) >= self.head_end + self.length:
            stop = self.head_end + self.length
            body = bytes(self.buf[self.head_end : stop])
            del self.buf[:stop]
            self.head_end = self.length = -1
            self.waiter.set_result((self.status, body))

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.closed or self.transport is None:
            raise HttpError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        self._check()
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(host: str, port: int) -> HttpConnection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(HttpConnection, host, port)
    return protocol


async def fetch(url: str, raw: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection (what a client does at login)."""
    conn = await connect(*host_port(url))
    try:
        return await conn.send(raw)
    finally:
        conn.close()
