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
from typing import Any, Protocol

import httptools
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from flannel_cli.logs import AccessLog

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


#: The largest request body the quick path holds to answer itself (a urlencoded form); a
#: larger one takes the ASGI path (its body streamed to the app).
QUICK_BODY = 16 * 1024
Header = tuple[bytes, bytes]
Reply = tuple[int, list[Header], bytes]


class QuickAnswers(Protocol):
    """What an app offers the quick path: the whole reply to a complete request, or None.
    Only requests for one of ``paths`` (raw, without the query) are held for it: every
    other one takes the ASGI path from its headers on, at the cost of a set lookup."""

    paths: frozenset[bytes]

    def answer(
        self, method: str, path: str, query: bytes, headers: list[Header], body: bytes
    ) -> Reply | None: ...


def quick_parts(app: Any) -> tuple[QuickAnswers | None, AccessLog | None]:
    """The quick answers the served app offers (``quick_answers()``), and the access log
    wrapped around it, below uvicorn's proxy-headers middleware (it changes only the
    scope's client and scheme, which no quick answer reads); none when anything else wraps
    it (uvicorn's trace logging middleware, say), so that whatever wraps it sees every call."""
    access: AccessLog | None = None
    while True:
        if isinstance(app, ProxyHeadersMiddleware):
            app = app.app
        elif isinstance(app, AccessLog):
            access, app = app, app.app
        else:
            break
    offer = getattr(type(app), "quick_answers", None)
    quick = offer(app) if offer is not None else None
    return quick, access if quick is not None else None


def response_bytes(status: int, default_headers: list[Header], headers: list[Header], body: bytes) -> bytes:
    """A keep-alive response as uvicorn's ``RequestResponseCycle.send`` writes it for these
    ASGI messages (its status line, the server's default headers then the app's, names
    lowercased) when they carry a ``content-length`` and no ``connection`` header."""
    parts = [STATUS_LINE[status]]
    for name, value in default_headers:
        parts += (name.lower(), b": ", value, b"\r\n")
    for name, value in headers:
        parts += (name.lower(), b": ", value, b"\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)


def _status(reply: Reply) -> int:
    return reply[0]


class QuickHttp(OneWriteHttp):
    """:class:`OneWriteHttp` that lets the app answer a complete request right here, when it
    can without an await (see :class:`QuickAnswers`; the edge's :class:`flannel.quick.QuickApi`).

    A candidate (a keep-alive HTTP/1.1 GET or POST to one of the app's quick paths, spelt
    without escapes, no upgrade, no ``Expect``, no chunked body, a body of at most
    :data:`QUICK_BODY`, no root path, no response of this connection still being sent) is
    held from its headers to its end: no cycle, no Task, no ASGI message (the scope dict
    uvicorn builds when a request begins is the one part left: the path comes later). Then
    the app answers it (the response written in order, the access line logged as
    :class:`~flannel_cli.logs.AccessLog` logs it, the keep-alive timer armed as after any
    response), or the request goes to uvicorn's own path as if it had just been parsed: its
    cycle built, its body handed over. Anything else goes that way from the start.
    """

    quick: QuickAnswers | None = None
    access: AccessLog | None = None
    paths: frozenset[bytes] = frozenset()
    _held = False
    _closing = False
    _body = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.limit_concurrency is None and not self.root_path:
            self.quick, self.access = quick_parts(self.app)
            if self.quick is not None:
                self.paths = self.quick.paths

    def on_headers_complete(self) -> None:
        # Every request passes here: one set lookup decides for all but the quick paths'.
        if self.url.partition(b"?")[0] in self.paths and self._may_hold():
            self._held = True
            self._body = b""
        else:
            _headers_complete(self)

    def _may_hold(self) -> bool:
        parser = self.parser
        if parser.get_http_version() != "1.1" or not parser.should_keep_alive() or parser.should_upgrade():
            return False
        if parser.get_method() not in (b"GET", b"POST") or self.expect_100_continue:
            return False
        if self.pipeline or self._closing:
            return False
        if self.cycle is not None and not self.cycle.response_complete:
            return False
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and not _small(value)):
                return False
        return True

    def on_body(self, body: bytes) -> None:
        if self._held:
            self._body += body
            if len(self._body) > QUICK_BODY:  # more than it said: the ASGI path decides
                self._release()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._held:
            self._held = False
            if not self._answer():
                self._release()
                _message_complete(self)
            return
        _message_complete(self)

    def _release(self) -> None:
        """The held request to uvicorn's path, as if parsed there (its body so far given)."""
        self._held = False
        body, self._body = self._body, b""
        super().on_headers_complete()
        if self._closing:
            self.cycle.keep_alive = False
        if body:
            super().on_body(body)

    def _answer(self) -> bool:
        """The held request answered here (True), or not (False: nothing was written)."""
        quick = self.quick
        if quick is None or self.flow.write_paused or self._closing or self.transport.is_closing():
            return False
        method = self.parser.get_method().decode("ascii")
        parsed = httptools.parse_url(self.url)
        path = parsed.path.decode("ascii")
        query = parsed.query or b""
        headers, body = self.headers, self._body
        self._body = b""
        try:
            if self.access is not None:
                reply = self.access.answer(
                    method, path, lambda: quick.answer(method, path, query, headers, body), _status
                )
            else:
                reply = quick.answer(method, path, query, headers, body)
        except Exception:  # a bug in a quick answer: the ASGI path answers (or says 500)
            self.logger.exception("quick answer to %s %s failed", method, path)
            reply = None
        if reply is None:
            self._body = body
            return False
        status, reply_headers, reply_body = reply
        self.transport.write(
            response_bytes(status, self.server_state.default_headers, reply_headers, reply_body)
        )
        # As uvicorn's on_response_complete: the request counted, the keep-alive timer armed.
        self.server_state.total_requests += 1
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        return True

    def shutdown(self) -> None:
        """As uvicorn's, and a held request is answered with ``connection: close`` by the
        ASGI path (as one whose cycle had begun would be)."""
        if self._held:
            self._closing = True
            return
        super().shutdown()


# uvicorn's own callbacks, called as plain functions: on every request that is not held,
# ``super()`` would cost more than the rest of the override.
_headers_complete = HttpToolsProtocol.on_headers_complete
_message_complete = HttpToolsProtocol.on_message_complete


def _small(value: bytes) -> bool:
    return value.isdigit() and int(value) <= QUICK_BODY
