"""The WebSocket seam: a three-method protocol, and its implementation on ``websockets``.

The client talks to :class:`RtmSocket`, never to a library directly, so tests can wrap the
real socket (to count the queries it sends) or replace it (to script a server).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect

from client_sdk.errors import ConnectionLost


class SocketClosed(Exception):
    """The connection is closed; ``code`` is the close code received (None: no close frame)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"closed: {code} {reason}".strip())
        self.code = code
        self.reason = reason


class RtmSocket(Protocol):
    async def send(self, text: str) -> None:
        """Send one text frame; raises :class:`SocketClosed`."""
        ...

    async def recv(self) -> str | bytes:
        """The next frame; raises :class:`SocketClosed` once the connection has closed."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


Connector = Callable[[str], Awaitable[RtmSocket]]
"""Opens a socket to a ``ws://`` URL; raises :class:`~client_sdk.errors.ConnectionLost`."""


class WebSocketsSocket:
    """:class:`RtmSocket` over a ``websockets`` client connection (which pings on its own,
    so a dead peer is noticed within ``ping_interval + ping_timeout``)."""

    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn

    async def send(self, text: str) -> None:
        try:
            await self._conn.send(text)
        except websockets.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def recv(self) -> str | bytes:
        try:
            return await self._conn.recv()
        except websockets.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._conn.close(code, reason)


def _closed(exc: websockets.ConnectionClosed) -> SocketClosed:
    if exc.rcvd is not None:
        return SocketClosed(exc.rcvd.code, exc.rcvd.reason)
    return SocketClosed(None, "connection lost")


def websockets_connector(
    *, open_timeout: float = 10.0, ping_interval: float | None = 20.0, max_size: int = 16 * 1024 * 1024
) -> Connector:
    """The default :data:`Connector`."""

    async def open_socket(url: str) -> RtmSocket:
        try:
            conn = await connect(
                url,
                open_timeout=open_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_interval,
                max_size=max_size,
                compression=None,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise ConnectionLost(f"cannot open the WebSocket: {exc!r}") from exc
        return WebSocketsSocket(conn)

    return open_socket
