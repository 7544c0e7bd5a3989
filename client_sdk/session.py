"""Keeping one RTM session alive: discover, connect, resume, dedupe, reconnect, or stop.

The loop: ``rtm.connect`` (discovery, with ``resume_from`` = the offset of the last event the
application was given) -> WebSocket -> hello -> events until the socket closes -> decide
(:func:`~client_sdk.policy.after_close`) -> wait -> again. A revoked token, an inactive
account or a refused token end the session with an :class:`~client_sdk.errors.AuthError`
instead: reconnecting cannot fix them, and a loop would hammer the servers forever.

Exactly once, in order. Every change-log event carries its offset, strictly increasing per
workspace. An event at or below the last offset given to the application is a duplicate (a
replay overlapping the live feed, a resume from an edge that is behind us) and is dropped.
A hello that says ``resync`` while being *behind* our offset is not a loss: the edge will send
those events again and they are dropped the same way. A resync with the edge ahead means
events were lost: the cache is dropped and the application gets :class:`~client_sdk.events.Resync`.

An edge that vanished (the socket dropped without a close frame, or could not be opened, or
sent no hello) is named on the next ``rtm.connect`` (``failed_edge``): the router sends this
client elsewhere at once, and stops sending anyone there once several clients said so, instead
of placing clients on a dead edge until its registration expires. Writes (:meth:`Session.write`)
outlive the edge the same way: sent again, after rediscovery, until their deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from client_sdk.cache import Directory
from client_sdk.decode import parse_event
from client_sdk.dispatch import EventBus
from client_sdk.errors import (
    ApiError,
    AuthError,
    ClientClosed,
    ConnectionLost,
    FlannelError,
    RateLimited,
    RequestTimeout,
)
from client_sdk.events import Disconnected, Goodbye, Hello, Message, PresenceChange, Resync, UserTyping
from client_sdk.http import WebApi
from client_sdk.models import JSON, Channel, Team, User
from client_sdk.policy import RETRYABLE_CODES, Backoff, Next, WriteRetry, after_close, done_by_earlier_attempt
from client_sdk.rtm import RtmConnection
from client_sdk.sockets import Connector, RtmSocket, SocketClosed
from wire.mentions import referenced_users
from wire.presence import TypingBoard

logger = logging.getLogger("client_sdk")
Sleep = Callable[[float], Awaitable[None]]


class Session:
    """The connection supervisor behind a :class:`~client_sdk.FlannelClient`."""

    def __init__(
        self,
        *,
        router_url: str,
        region: str | None,
        web: WebApi,
        connector: Connector,
        directory: Directory,
        bus: EventBus,
        backoff: Backoff,
        timeout: float = 10.0,
        hello_timeout: float = 15.0,
        reads_over_websocket: bool = True,
        stable_after: float = 10.0,
        write_deadline: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.router_url, self.region = router_url, region
        self.web, self.connector, self.directory, self.bus = web, connector, directory, bus
        self.backoff, self.timeout, self.hello_timeout = backoff, timeout, hello_timeout
        self.reads_over_websocket = reads_over_websocket
        self.stable_after = stable_after
        self.write_deadline = write_deadline
        self._sleep = sleep
        self.last_offset: int | None = None
        """Offset of the last change-log event given to the application (resume point)."""
        self.rtm: RtmConnection | None = None
        self.api_url: str | None = None
        self.edge_id: str | None = None
        """The edge the router sent us to last (None when its answer did not say)."""
        self.self_user: User | None = None
        self.team: Team | None = None
        self.error: FlannelError | None = None
        self.connections = 0
        self._jit: dict[str, User] = {}
        self._socket: RtmSocket | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stopping = False
        self._failed_edge: str | None = None  # named on the next rtm.connect
        self._new_edge = asyncio.Event()  # set (and replaced) at every hello, and at the end
        self.done = asyncio.Event()
        self.typing = TypingBoard()
        """Who is typing where, expiring on its own (the hello says after how long)."""
        self.presence_ids: list[str] = []
        """The presence subscription, sent again on every new connection (it is per connection)."""
        self.presences: dict[str, str] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, connect_timeout: float | None) -> None:
        """Run the loop; return once the first hello is in (or raise why it cannot be)."""
        if self._task is not None:
            raise RuntimeError("already started")
        self._ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="flannel-session")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), connect_timeout)
        except TimeoutError:
            await self.stop()
            raise ConnectionLost(f"could not connect within {connect_timeout}s") from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close the connection and stop reconnecting; listeners finish normally."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(1000, "client closed"), 5)
        self.bus.end(self.error)
        self._new_edge.set()
        self.done.set()

    async def _run(self) -> None:
        try:
            while not self._stopping:
                delay = await self._connect_once()
                if not self._stopping:
                    await self._sleep(delay)
        except FlannelError as exc:  # fatal: see the module docstring
            self._fail(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must end the session loudly, not hang it
            logger.exception("the session loop failed")
            error = ConnectionLost(f"the session loop failed: {exc!r}")
            error.__cause__ = exc
            self._fail(error)

    def _fail(self, exc: FlannelError) -> None:
        self.error = exc
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(exc)
            self._ready.exception()
        self.bus.end(exc)
        self._new_edge.set()
        self.done.set()

    # -- one connection --------------------------------------------------------------------

    async def _connect_once(self) -> float:
        """One discovery + connection, lived to its end; the delay before the next one."""
        try:
            found = await self.web.rtm_connect(
                self.router_url, self.region, self.last_offset, failed_edge=self._failed_edge
            )
        except RateLimited as exc:
            self._failed_edge = None
            return self.backoff.retry_after(exc.retry_after)
        except AuthError:
            raise
        except ApiError as exc:
            self._failed_edge = None  # said: if it left no edge, the next ask may get it back
            if exc.code in RETRYABLE_CODES or (exc.status or 0) >= 500:
                return self.backoff.next()
            raise
        except (ConnectionLost, RequestTimeout) as exc:
            logger.info("discovery failed: %s", exc)
            return self.backoff.next()
        self._failed_edge = None
        self.api_url, self.edge_id = found.api_url, found.edge_id
        try:
            socket = self._socket = await self.connector(found.url)
        except ConnectionLost as exc:
            logger.info("connect failed: %s", exc)
            self._failed_edge = found.edge_id
            return self.backoff.next()
        try:
            hello = await asyncio.wait_for(self._first_hello(socket), self.hello_timeout)
        except SocketClosed as refused:
            return self._closed(refused, None, had_hello=False)
        except TimeoutError:
            await _close_quietly(socket, 1000, "no hello")
            self._failed_edge = found.edge_id
            return self.backoff.next()
        rtm = RtmConnection(socket, self._on_frame, timeout=self.timeout)
        self._on_hello(hello)
        self.rtm = rtm
        if self.presence_ids:
            with contextlib.suppress(FlannelError):
                await rtm.send({"type": "presence_sub", "ids": list(self.presence_ids)})
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            closed = await rtm.run()
        finally:
            self.rtm = None
        return self._closed(closed, rtm.goodbye, had_hello=True, lived=loop.time() - began)

    async def _first_hello(self, socket: RtmSocket) -> JSON:
        while True:
            try:
                frame = orjson.loads(await socket.recv())
            except orjson.JSONDecodeError:
                continue
            if isinstance(frame, dict) and frame.get("type") == "hello":
                return frame
            logger.warning("before hello: %.200r", frame)  # a ticket error, then a close

    def _closed(
        self, closed: SocketClosed, goodbye: Mapping[str, Any] | None, had_hello: bool, lived: float = 0.0
    ) -> float:
        """The delay before reconnecting. Only a connection that stayed up ``stable_after``
        seconds resets the backoff: one that an edge accepts and drops at once, again and
        again, must not turn into a tight reconnect loop."""
        self._socket = None
        nxt, fatal = after_close(closed.code, closed.reason, goodbye is not None)
        if had_hello or fatal is not None:
            gone = Disconnected(code=closed.code, reason=closed.reason, will_reconnect=fatal is None)
            self.bus.publish(gone)
        if fatal is not None:
            raise fatal
        stable = lived >= self.stable_after
        if stable:
            self.backoff.reset()
        if nxt is Next.LOST:  # the router will not send us back there: no flapping to fear
            self._failed_edge = self.edge_id
            if had_hello:
                return self.backoff.soon()
        if nxt is Next.SOON and had_hello and (stable or self.backoff.attempt == 0):
            wait = (goodbye or {}).get("retry_after")
            if isinstance(wait, int | float):
                return self.backoff.retry_after(float(wait))
            return self.backoff.soon()
        return self.backoff.next()

    # -- frames ----------------------------------------------------------------------------

    def _on_hello(self, frame: JSON) -> None:
        raw_channels = frame.get("channels")
        hello = Hello(
            self_user=User.from_json(_obj(frame.get("self"))),
            team=Team.from_json(_obj(frame.get("team"))),
            channels=tuple(Channel.from_json(c, partial=True) for c in raw_channels if isinstance(c, dict))
            if isinstance(raw_channels, list)
            else (),
            position=_int(frame.get("offset")),
            reconnect=self.connections > 0,
            resumed=False,
            raw=frame,
        )
        self.connections += 1
        expiry = frame.get("typing_expiry_s")
        if isinstance(expiry, int | float) and not isinstance(expiry, bool) and expiry > 0:
            self.typing.expiry_s = float(expiry)
        arrived, self._new_edge = self._new_edge, asyncio.Event()
        arrived.set()
        self._jit.clear()
        resync = None
        if self.last_offset is None:
            self.last_offset = hello.position
        elif frame.get("resync") and hello.position > self.last_offset:
            resync = Resync(reason="resume_failed", position=hello.position, raw=frame)
            self.directory.clear()
            self.last_offset = hello.position
        else:  # resumed, or behind us (those events come again and are dropped by offset)
            hello = dataclasses.replace(hello, resumed=True)
        self.self_user, self.team = hello.self_user, hello.team
        self.directory.start(hello, stale=hello.position < (self.last_offset or 0))
        if resync is not None:
            self.bus.publish(resync)
        self.bus.publish(hello)

    def _on_frame(self, frame: JSON) -> None:
        kind = frame.get("type")
        if kind == "user_info":
            arrived = [User.from_json(u) for u in frame.get("users") or () if isinstance(u, dict)]
            self.directory.put_users(arrived)
            self._jit.update((u.id, u) for u in arrived)
            return
        if kind == "resync":
            self.directory.clear()
            self.bus.publish(Resync(reason="edge_reloaded", position=self.last_offset or 0, raw=frame))
            return
        if kind == "goodbye":
            self.bus.publish(Goodbye(source=str(frame.get("source") or ""), raw=frame))
            return
        if kind in ("error", "pong", "hello") or not isinstance(kind, str):
            logger.debug("frame: %.200r", frame)
            return
        offset = frame.get("offset")
        if isinstance(offset, int) and not isinstance(offset, bool):
            if self.last_offset is not None and offset <= self.last_offset:
                self._jit.clear()
                return  # already given to the application
            self.last_offset = offset
        users: dict[str, User] = {}
        for uid in referenced_users(frame):
            user = self._jit.get(uid) or self.directory.users.get(uid)
            if user is not None:
                users[uid] = user
        self._jit.clear()
        event = parse_event(frame, users)
        self.directory.apply(event)
        self._ephemeral(event)
        self.bus.publish(event)

    def _ephemeral(self, event: Any) -> None:
        """Typing and presence state, kept as the events arrive."""
        loop_time = asyncio.get_running_loop().time()
        if isinstance(event, UserTyping):
            self.typing.saw(event.channel, event.user, loop_time)
        elif isinstance(event, Message) and event.user:
            self.typing.stopped(event.channel, event.user)  # they posted: done typing
        elif isinstance(event, PresenceChange):
            for user in event.users:
                self.presences[user] = event.presence

    # -- requests --------------------------------------------------------------------------

    def check_open(self) -> None:
        if self.error is not None:
            raise ClientClosed(f"the session ended: {self.error}") from self.error
        if self._stopping:
            raise ClientClosed("the client is closed")

    async def read(self, method: str, args: Mapping[str, Any]) -> JSON:
        """A read the edge answers from memory: over the socket when it can, else HTTP."""
        self.check_open()
        rtm = self.rtm
        if self.reads_over_websocket and rtm is not None and rtm.open and rtm.budget.take():
            try:
                return await rtm.query(method, args)
            except (ConnectionLost, RateLimited) as exc:
                logger.debug("%s over HTTP after %r", method, exc)
        return await self.call(method, args)

    async def call(self, method: str, args: Mapping[str, Any]) -> JSON:
        """Any method over HTTP, at the API base of the edge we were sent to."""
        self.check_open()
        if self.api_url is None:
            raise ConnectionLost("not connected: call connect() first")
        return await self.web.call(self.api_url, method, args)

    async def write(self, method: str, args: Mapping[str, Any]) -> JSON:
        """A write over HTTP that survives its edge: sent again (after rediscovery, when the
        connection is down) until ``write_deadline``, then its last error is raised."""
        self.check_open()
        if self.api_url is None:
            raise ConnectionLost("not connected: call connect() first")
        retry = WriteRetry(self.write_deadline)
        loop = asyncio.get_running_loop()
        began = loop.time()
        attempt = 0
        while True:
            seen = self.connections
            try:
                return await self.call(method, args)
            except FlannelError as exc:
                if done_by_earlier_attempt(method, exc, attempt):
                    return {"ok": True}
                delay = retry.delay(exc, loop.time() - began)
                if delay is None:
                    raise
                logger.info("%s failed (%s), again in %.2fs", method, exc, delay)
            attempt += 1
            await self.wait_for_edge(seen, delay)

    async def wait_for_edge(self, seen: int, wait_s: float) -> None:
        """Until a hello after the ``seen``-th (a new edge, or the same one again), at most
        ``wait_s`` seconds."""
        if self.connections > seen or self.done.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new_edge.wait(), wait_s)


async def _close_quietly(socket: RtmSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await socket.close(code, reason)


def _obj(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
