"""The WebSocket server protocol an edge runs under uvicorn: uvicorn's own, plus a way for a
connection to let go of its transport.

A client that stops reading fills the TCP window; then uvicorn's ``send`` waits forever for the
transport to become writable, and its ``close`` waits forever for the buffer to flush. ASGI
has no way to abort a connection, so this protocol offers one in the scope's extensions
(:data:`DROP_EXTENSION`): ``scope["extensions"][DROP_EXTENSION]["drop"]()`` closes the
transport now, flushing what is buffered for up to :data:`LINGER_S` (so a client that still
reads gets its close frame), then aborts it. Without this protocol (tests in-process, another
server) connections do without: :class:`flannel.connection.Connection` treats ``drop`` as
optional.

It also offers pre-framed writes (:data:`DIRECT_EXTENSION`, :class:`flannel.connection.Direct`):
WebSocket frames built once per event are written as they are to the transport, with no ASGI
message and no framing per connection. Only while the connection is open and no extension
(compression) was negotiated; data frames only, never inside another message (uvicorn writes
each of its messages whole), so the websockets state machine stays true for everything it
sends itself (pings, pongs, the close).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

DROP_EXTENSION = "flannel.drop"
DIRECT_EXTENSION = "flannel.direct"
#: How long a dropped transport may take to flush what it holds before it is aborted.
LINGER_S = 1.0


def drop_of(scope: Any) -> Any:
    """The scope's ``drop`` callable, or None when the server offers none."""
    extensions = scope.get("extensions") or {}
    return (extensions.get(DROP_EXTENSION) or {}).get("drop")


def direct_of(scope: Any) -> Any:
    """The scope's pre-framed writer (a :class:`flannel.connection.Direct`), or None."""
    extensions = scope.get("extensions") or {}
    return (extensions.get(DIRECT_EXTENSION) or {}).get("direct")


class DroppableWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, whose connections can drop their transport."""

    async def run_asgi(self) -> None:
        extensions = self.scope.get("extensions")
        if extensions is None:
            extensions = self.scope["extensions"] = {}
        extensions[DROP_EXTENSION] = {"drop": self.drop}
        extensions[DIRECT_EXTENSION] = {"direct": self}
        await super().run_asgi()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake's request and response (their headers): read only to accept, and
            # otherwise kept for the connection's life. The scope keeps the request's headers.
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)

    # -- flannel.connection.Direct ------------------------------------------------------------

    def can_write(self) -> bool:
        return (
            self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.conn.state is State.OPEN
            and not self.conn.extensions
            and not self.transport.is_closing()
        )

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def backlogged(self) -> bool:
        return not self.writable.is_set()

    async def drained(self) -> None:
        await self.writable.wait()

    def drop(self) -> None:
        """Close the transport now; abort it if what it holds is not out within the linger."""
        transport = self.transport
        if transport is None:
            return
        buffered = transport.get_write_buffer_size()
        transport.close()
        if buffered:
            self.loop.call_later(LINGER_S, transport.abort)
