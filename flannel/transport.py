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

Per idle connection it keeps less than uvicorn's own protocol: the queue of received messages
and the ``writable`` flag are :class:`_Inbox` and :class:`_Writable` (no ``asyncio.Queue`` with
its three deques and an ``Event``, no ``asyncio.Event`` with its deque of waiters: at most one
reader and one writer wait on them), and once the handshake is done the handshake's request and
response and the scope's headers and query string are let go (the endpoint reads them before
it accepts; the access log reads only the path).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.protocol import State

DROP_EXTENSION = "flannel.drop"
DIRECT_EXTENSION = "flannel.direct"
#: How long a dropped transport may take to flush what it holds before it is aborted.
LINGER_S = 1.0
_OPEN = State.OPEN


def drop_of(scope: Any) -> Any:
    """The scope's ``drop`` callable, or None when the server offers none."""
    extensions = scope.get("extensions") or {}
    return (extensions.get(DROP_EXTENSION) or {}).get("drop")


def direct_of(scope: Any) -> Any:
    """The scope's pre-framed writer (a :class:`flannel.connection.Direct`), or None."""
    extensions = scope.get("extensions") or {}
    return (extensions.get(DIRECT_EXTENSION) or {}).get("direct")


class _Inbox:
    """What uvicorn's protocol needs of its queue of received ASGI messages (``put_nowait``,
    ``get``, ``empty``): FIFO and unbounded like uvicorn's ``asyncio.Queue`` (uvicorn pauses
    reading while a message waits), without its three deques and its ``Event``: the deque
    exists only while messages wait, the list of waiting getters only while one waits (the
    ASGI app, one reader)."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getters: list[asyncio.Future[None]] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_next()

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled() and self._items:
                    self._wake_next()  # woken, then cancelled: the message is the next getter's
                raise
            finally:
                getters = self._getters
                if getters is not None and getter in getters:
                    getters.remove(getter)
                if not getters:
                    self._getters = None
        return self.get_nowait()

    def _wake_next(self) -> None:
        for getter in self._getters or ():
            if not getter.done():
                getter.set_result(None)
                return


class _Writable:
    """uvicorn's ``writable`` flag (``set``, ``clear``, ``is_set``, ``wait``) without
    ``asyncio.Event``'s deque of waiters: the waiters' list exists only while some wait."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> Literal[True]:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None


class DroppableWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, whose connections can drop their transport."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self._flag = _Writable()  # typed as ours: ``backlogged`` reads it once per flush
        self.writable = self._flag  # type: ignore[assignment]
        self._preframed = False  # accepted, with no extension: frames may go straight out
        self.on_pause: Callable[[], None] | None = None  # the connection's (flannel.connection.Direct)

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
            self._preframed = not self.conn.extensions
            # The handshake's request and response (their headers): read only to accept, and
            # otherwise kept for the connection's life.
            request = self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            if request is not None:
                # The websockets parser's frame keeps the request it parsed for the
                # connection's life: empty it (its path holds the ticket, its headers all).
                request.path = ""
                request.headers = Headers()
            # Read by the endpoint before it accepts and by uvicorn's accept log line, never
            # after (the access log reads the path).
            self.scope["headers"] = []
            self.scope["query_string"] = b""

    # -- flannel.connection.Direct ------------------------------------------------------------

    def can_write(self) -> bool:
        # Asked once per connection per loop turn with frames: what cannot change after the
        # handshake (it completed, no extension was negotiated) is read once, at the accept.
        return (
            self._preframed
            and self.conn.state is _OPEN
            and not self.close_sent
            and not self.disconnected
            and not self.transport.is_closing()
        )

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def take(self, data: bytes) -> bool:
        # Once per idle connection per live event, in the pass that routes it: what it reads
        # is this object's and the transport's, which the write touches anyway. A close frame
        # sent or received, or a lost connection, sets one of these (uvicorn closes the
        # transport when the client's close arrives); nothing else can end writability.
        if self.close_sent or self.disconnected:
            return False
        transport = self.transport
        if transport.is_closing():
            return False
        transport.write(data)
        return True

    def pause_writing(self) -> None:
        super().pause_writing()
        hook = self.on_pause
        if hook is not None:
            hook()

    def backlogged(self) -> bool:
        return not self._flag._value

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
