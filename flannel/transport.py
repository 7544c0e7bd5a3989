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
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

DROP_EXTENSION = "flannel.drop"
#: How long a dropped transport may take to flush what it holds before it is aborted.
LINGER_S = 1.0


def drop_of(scope: Any) -> Any:
    """The scope's ``drop`` callable, or None when the server offers none."""
    extensions = scope.get("extensions") or {}
    return (extensions.get(DROP_EXTENSION) or {}).get("drop")


class DroppableWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, whose connections can drop their transport."""

    async def run_asgi(self) -> None:
        extensions = self.scope.get("extensions")
        if extensions is None:
            extensions = self.scope["extensions"] = {}
        extensions[DROP_EXTENSION] = {"drop": self.drop}
        await super().run_asgi()

    def drop(self) -> None:
        """Close the transport now; abort it if what it holds is not out within the linger."""
        transport = self.transport
        if transport is None:
            return
        buffered = transport.get_write_buffer_size()
        transport.close()
        if buffered:
            self.loop.call_later(LINGER_S, transport.abort)
