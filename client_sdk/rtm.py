"""One live WebSocket connection: query frames out, replies matched to their futures by id.

Everything that is not a reply goes to ``on_frame`` in arrival order, synchronously, so the
session sees events exactly in the order the edge sent them. Queries share the edge's
per-connection frame budget with everything else the client sends; :class:`FrameBudget`
keeps the client under it (the edge closes a connection that keeps sending while limited),
and a caller that finds it spent goes over HTTP instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from client_sdk.errors import ApiError, ConnectionLost, FlannelError, RateLimited, RequestTimeout, api_error
from client_sdk.models import JSON
from client_sdk.sockets import RtmSocket, SocketClosed

logger = logging.getLogger("client_sdk")
_RETRY = re.compile(r"retry after ([0-9.]+)")
_REPLY_TYPES = (None, "error", "pong")


class FrameBudget:
    """A token bucket a little under the edge's own (20 frames/s, bursts of 40)."""

    def __init__(self, per_s: float = 15.0, burst: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.per_s, self.burst, self._clock = per_s, burst, clock
        self._tokens, self._last = burst, clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_s)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class RtmConnection:
    """A connected socket, after its hello: :meth:`run` reads it, :meth:`query` asks over it."""

    def __init__(
        self,
        socket: RtmSocket,
        on_frame: Callable[[JSON], None],
        *,
        timeout: float = 10.0,
        budget: FrameBudget | None = None,
    ) -> None:
        self.socket = socket
        self.timeout = timeout
        self.budget = budget or FrameBudget()
        self.goodbye: JSON | None = None
        """The ``goodbye`` frame, once the edge said it is going away."""
        self._on_frame = on_frame
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[JSON]] = {}
        self._closed: SocketClosed | None = None

    @property
    def open(self) -> bool:
        return self._closed is None

    async def query(self, method: str, args: Mapping[str, Any]) -> JSON:
        """Call ``method`` over the socket: ``{"id", "type": "query", "method", "args"}``."""
        return await self.request({"type": "query", "method": method, "args": dict(args)})

    async def send(self, frame: Mapping[str, Any]) -> None:
        """Send ``frame`` without waiting for an answer (``typing`` has none)."""
        if self._closed is not None:
            raise ConnectionLost("the connection is closed")
        try:
            await self.socket.send(orjson.dumps(frame).decode())
        except SocketClosed as exc:
            raise ConnectionLost(str(exc)) from None

    async def request(self, frame: Mapping[str, Any]) -> JSON:
        """Send ``frame`` with a fresh ``id``; its reply (``reply_to``) or the matching error."""
        if self._closed is not None:
            raise ConnectionLost("the connection is closed")
        frame_id = next(self._ids)
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = future
        try:
            await self.socket.send(orjson.dumps({"id": frame_id, **frame}).decode())
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except SocketClosed as exc:
            raise ConnectionLost(str(exc)) from None
        except TimeoutError:
            raise RequestTimeout(f"no reply to {frame.get('method') or frame.get('type')}") from None
        finally:
            self._pending.pop(frame_id, None)

    async def run(self) -> SocketClosed:
        """Read until the socket closes; the close is returned, pending queries fail."""
        try:
            while True:
                data = await self.socket.recv()
                try:
                    frame = orjson.loads(data)
                except orjson.JSONDecodeError:
                    logger.warning("ignoring a frame that is not JSON: %.80r", data)
                    continue
                if isinstance(frame, dict):
                    self._dispatch(frame)
        except SocketClosed as closed:
            self._closed = closed
        except BaseException as exc:
            self._closed = SocketClosed(None, repr(exc))
            self.fail_all(ConnectionLost("the connection is closed"))
            raise
        self.fail_all(ConnectionLost(f"the connection closed ({self._closed.code})"))
        return self._closed

    def _dispatch(self, frame: JSON) -> None:
        reply_to = frame.get("reply_to")
        if isinstance(reply_to, int) and frame.get("type") in _REPLY_TYPES:
            future = self._pending.get(reply_to)
            if future is not None and not future.done():
                _settle(future, frame)
            return
        if frame.get("type") == "goodbye":
            self.goodbye = frame
        self._on_frame(frame)

    def fail_all(self, exc: FlannelError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        try:
            await self.socket.close(code, reason)
        except Exception:  # already gone: nothing left to close
            logger.debug("closing an already closed socket", exc_info=True)


def _settle(future: asyncio.Future[JSON], frame: JSON) -> None:
    kind = frame.get("type")
    if kind == "pong" or frame.get("ok") is True:
        future.set_result({k: v for k, v in frame.items() if k not in ("ok", "reply_to")})
        return
    if kind == "error":
        error = frame.get("error")
        err: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
        code = str(err.get("code") or "unknown_error")
        if code == "ratelimited":
            found = _RETRY.search(str(err.get("msg", "")))
            future.set_exception(RateLimited(float(found.group(1)) if found else 1.0, frame))
        else:
            future.set_exception(ApiError(code, {**frame, "detail": err.get("msg")}))
        return
    error = frame.get("error")
    if isinstance(error, Mapping):  # Slack's RTM reply: {"ok": false, "error": {"code", "msg"}}
        code = str(error.get("code") or "unknown_error")
        future.set_exception(api_error(code, {**frame, "error": code, "detail": error.get("msg")}))
        return
    future.set_exception(api_error(str(error or "unknown_error"), frame))
