"""uvicorn's HTTP protocol (httptools), with a response's writes sent as one.

uvicorn writes a response's status line and headers, then its body, as two
``transport.write`` calls; on an idle socket each is a ``send`` of its own, so a small answer
costs two system calls and two TCP segments (and the client two reads). :class:`OneWriteHttp`
is uvicorn's own protocol class, given to it through its supported ``http=`` setting
(:func:`flannel_cli.serve.config`, for every server alike), whose transport is wrapped in
:class:`OneWrite`: the small writes of one event-loop turn are joined and sent at the end of
that turn, in order; past :data:`SMALL` bytes pending they go at once (a large or streamed body
meets the transport's flow control as before). A WebSocket upgrade hands the WebSocket
protocol the real transport (what was pending sent first), so frames are written as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Writes are held for the end of the loop turn while fewer bytes than this are pending.
SMALL = 64 * 1024


class OneWrite:
    """A transport's small writes within one loop turn, sent as one write when the turn ends
    (or as soon as :data:`SMALL` bytes are pending, or before the transport closes);
    everything else is the transport's own."""

    __slots__ = ("_loop", "_pending", "_size", "raw")

    def __init__(self, raw: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = raw
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pending = self._pending
        if pending is None:
            if len(data) >= SMALL:
                self.raw.write(data)
                return
            self._pending = [bytes(data)]
            self._size = len(data)
            self._loop.call_soon(self.flush)
        else:
            pending.append(bytes(data))
            self._size += len(data)
            if self._size >= SMALL:
                self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending = self._pending
        if pending is not None:
            self._pending = None
            self.raw.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self.raw.get_write_buffer_size() + (self._size if self._pending else 0)

    def close(self) -> None:
        self.flush()
        self.raw.close()

    def abort(self) -> None:
        self._pending = None
        self.raw.abort()

    # Called on every request: delegated directly rather than through ``__getattr__``.
    def is_closing(self) -> bool:
        return self.raw.is_closing()

    def pause_reading(self) -> None:
        self.raw.pause_reading()

    def resume_reading(self) -> None:
        self.raw.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.raw.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class OneWriteHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`OneWrite` transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWrite(transport, self.loop))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        wrapped = self.transport
        if isinstance(wrapped, OneWrite):
            wrapped.flush()
            self.transport = wrapped.raw
        super().handle_websocket_upgrade()
