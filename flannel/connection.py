"""One ``/rtm`` WebSocket: moves frames between a socket and its sans-I/O ``Session``.

Writing. When the server offers pre-framed writes (:class:`Direct`, from
:mod:`flannel.transport`), a connection with frames to send joins this loop turn's flush: once
per loop turn, every such connection writes all it has queued, as WebSocket frames built once
per event (``Delivery.wire``), in one ``transport.write``: no task wakes, no ASGI message, no
framing per connection. A connection goes back to its writer task only for backpressure (its
transport holds more than its high-water mark: the writer waits for it to drain, while the
session's bounded queue fills and overflows into 4008 as before), for closing, or when the
server offers no pre-framed path (compression negotiated, tests in-process): then frames go
through ASGI ``send_text`` one by one, as they always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from starlette.websockets import WebSocketDisconnect

from flannel.edge import Edge
from flannel.methods import Who
from flannel.rtm import frames
from flannel.rtm.admission import Refuse
from flannel.rtm.dispatch import Action, Call, Notify, Reply, dispatch
from flannel.rtm.sendqueue import SendQueue
from flannel.rtm.session import Session
from wire import closecodes

WRITE_BATCH = 64
WRITER_GRACE_S = 5.0
#: How long an evicted connection waits for its socket to take the 4008 close frame.
CLOSE_WAIT_S = 1.0


class Socket(Protocol):
    """What a connection needs of a WebSocket (Starlette's, or a test's)."""

    async def receive(self) -> Mapping[str, Any]: ...

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Direct(Protocol):
    """Pre-framed writes straight to the connection's transport (the server's, see
    :class:`flannel.transport.DroppableWebSockets`)."""

    #: Called by the server when the transport passes its high-water mark (set by the
    #: connection): from then on frames are queued until the writer has seen it drain.
    on_pause: Callable[[], None] | None

    def can_write(self) -> bool:
        """Whether frames may go straight to the transport now (open, uncompressed)."""
        ...

    def write(self, data: bytes) -> None:
        """Write WebSocket frames, already framed, as they are."""
        ...

    def take(self, data: bytes) -> bool:
        """:meth:`write`, unless the transport is closing or closed (False, nothing written):
        the session's outlet (:attr:`flannel.rtm.session.Session.outlet`), offered while the
        connection is idle and checked then with :meth:`can_write`."""
        ...

    def backlogged(self) -> bool:
        """Whether the transport holds more than its high-water mark (the client is behind)."""
        ...

    async def drained(self) -> None:
        """Until the transport is below its low-water mark again (or gone)."""
        ...


class _Flush:
    """The connections with frames to write this loop turn; flushed once, at its end."""

    __slots__ = ("loop", "pending", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[Connection] = []
        self.scheduled = False

    def add(self, conn: Connection) -> None:
        self.pending.append(conn)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        self.scheduled = False
        pending, self.pending = self.pending, []
        for conn in pending:
            conn.flush()


_flush: _Flush | None = None


def _flusher() -> _Flush:
    global _flush
    loop = asyncio.get_running_loop()
    if _flush is None or _flush.loop is not loop:
        _flush = _Flush(loop)
    return _flush


class Waker(asyncio.Event):
    """What the edge sets when a session has frames to write: it joins the loop turn's flush,
    or wakes the connection's writer (backpressure, closing, no pre-framed path). Setting it
    for a session with nothing queued costs nothing.

    An event for the one writer task, without ``asyncio.Event``'s deque of waiters (a block
    of memory per idle connection): at most one future, made when the writer waits.
    """

    def __init__(self, conn: Connection) -> None:  # no super().__init__(): no deque of waiters
        self._conn = conn
        self._value = False
        self._waiter: asyncio.Future[None] | None = None
        # Once per connection per event: the connection's own method, with no call between.
        self.set = conn.ready  # type: ignore[method-assign]

    def set(self) -> None:
        self._conn.ready()

    def is_set(self) -> bool:
        return self._value

    def clear(self) -> None:
        self._value = False

    def wake_writer(self) -> None:
        self._value = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> Literal[True]:
        if not self._value:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        return True


class Connection:
    """One admitted client on its socket: a reader and a writer, and nothing to decide.

    The reader hands each client frame to :func:`flannel.rtm.dispatch.dispatch` and carries
    out the action it returns (a reply, a call answered with ``reply_to``, a typing notice);
    the writer empties the session's send queue whenever the edge wakes it (an event was
    routed, a reply queued). What to send and when to close are the session's and the edge's
    decisions; when the session closes (revoked token, drain), the writer sends what is
    queued and closes the socket with the session's code.

    A client that stops reading is not waited for: when the edge evicts its session (the
    queue overflowed, or a write has been pending for ``write_stall_s``) it calls
    :meth:`hang_up`, which stops both tasks; the connection then closes 4008 if the socket
    can still carry a frame within :data:`CLOSE_WAIT_S`, and ``drop`` (the server's, see
    :mod:`flannel.transport`) lets go of the transport either way.
    """

    def __init__(
        self,
        edge: Edge,
        socket: Socket,
        session: Session,
        drop: Callable[[], None] | None = None,
        direct: Direct | None = None,
    ) -> None:
        self.edge = edge
        self.socket = socket
        self.session = session
        self.drop = drop
        self.direct = direct
        self.wake = Waker(self)
        self.evicted = False
        self._pending = False  # in this loop turn's flush
        self._flush: _Flush | None = None  # the loop's flush, found once (not per frame)
        self._backlog = direct is None  # writes go through the writer task
        self._reader_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        if direct is not None:
            direct.on_pause = self._paused

    @property
    def who(self) -> Who:
        return Who(self.session.team_id, self.session.user_id)

    def ready(self) -> None:
        """The session may have frames to write (see :class:`Waker`)."""
        if self.evicted:
            return
        session = self.session
        if session.close_code is not None:
            self._backlog = True  # the writer sends what is left, then the close frame
        elif not len(session.queue):
            return
        if not self._backlog:
            if not self._pending:
                self._pending = True
                flush = self._flush  # a connection lives on one loop: its flush, found once
                if flush is None:
                    flush = self._flush = _flusher()
                flush.add(self)
            return
        self._writer()
        self.wake.wake_writer()

    def flush(self) -> None:
        """Write everything queued straight to the transport (the loop turn's flush)."""
        self._pending = False
        direct = self.direct
        if self._backlog or self.evicted or direct is None:
            return
        if self.session.close_code is not None or not direct.can_write():
            self._backlog = True
            self.ready()
            return
        data = self.session.queue.take_wire()
        if data:
            direct.write(data)
        if direct.backlogged():  # the client is behind: the writer waits for the transport
            self.session.hold_outlet()
            self._backlog = True
            self._writer()
            self.wake.wake_writer()
        else:
            self._offer()

    def _offer(self) -> None:
        """Offer the transport as the session's outlet while this connection is idle: nothing
        queued, no flush pending, no backlog, open. Routing then writes a live event straight
        to it, in the one pass that routes the event (no wake, no flush). The session takes the
        outlet back as soon as it queues a frame; :meth:`_paused` when the transport fills."""
        direct, session = self.direct, self.session
        if (
            direct is not None
            and not (self._pending or self._backlog or self.evicted)
            and session.close_code is None
            and not len(session.queue)
            and direct.can_write()
        ):
            session.outlet = direct

    def _paused(self) -> None:
        """The transport passed its high-water mark (the server says so, mid-write): frames
        are queued from now on, and the writer waits for the transport to drain."""
        self.session.hold_outlet()
        if not self._backlog and not self.evicted and self.direct is not None:
            self._backlog = True
            self._writer()
            self.wake.wake_writer()

    def _writer(self) -> asyncio.Task[None]:
        """The connection's writer task, started when first needed."""
        if self._writer_task is None:
            self._writer_task = asyncio.create_task(self._write())
        return self._writer_task

    async def run(self, resume_from: int | None) -> None:
        edge, session = self.edge, self.session
        try:
            refusal = await edge.open(session, resume_from, self.wake, self.hang_up)
            if refusal is not None:
                await self._refuse(refusal)
                return
            self.wake.set()
            reader = self._reader_task = asyncio.create_task(self._reader())
            try:
                try:  # until the client left, the session closed, or it was evicted
                    await reader  # (not asyncio.wait: its future and callbacks, per connection)
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # this connection is cancelled, not only its reader (evicted)
            finally:
                reader.cancel()
                if self.evicted:
                    await self._hang_up(self._writer_task)
                else:
                    session.close(closecodes.NORMAL, "bye")  # unless it was closed for a reason
                    self.wake.set()
                    writer = self._writer()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(writer, WRITER_GRACE_S)
                    writer.cancel()
        finally:
            session.hold_outlet()
            edge.leave(session)

    def hang_up(self) -> None:
        """The edge evicted this session: stop reading and writing now (see :meth:`run`)."""
        if self.evicted:
            return
        self.evicted = True
        self.session.hold_outlet()
        self.session.queue.clear()  # the client resumes from what it got; the log has the rest
        if self._reader_task is not None:
            self._reader_task.cancel()

    async def _hang_up(self, writer: asyncio.Task[None] | None) -> None:
        if writer is not None:
            writer.cancel()  # it may be stuck on a full TCP window
            await asyncio.wait({writer})
            _consume(writer)
        session = self.session
        with contextlib.suppress(Exception):
            code = session.close_code or closecodes.TOO_SLOW
            await asyncio.wait_for(self.socket.close(code, session.close_reason), CLOSE_WAIT_S)
        if self.drop is not None:
            self.drop()

    async def _refuse(self, refusal: Refuse) -> None:
        with contextlib.suppress(Exception):
            await self.socket.send_text(refusal.frame().decode())
            await self.socket.close(refusal.close_code, refusal.error)

    async def _write(self) -> None:
        """Backpressure and closing: wait for the transport, then write; or the ASGI path."""
        session, socket, direct = self.session, self.socket, self.direct
        while True:
            await self.wake.wait()
            self.wake.clear()
            if direct is not None and direct.can_write():
                await self._write_direct(direct, session.queue)
            else:
                while batch := session.queue.pop_many(WRITE_BATCH):
                    for frame in batch:
                        session.writing_since = time.monotonic()  # progress, as the sweeper sees it
                        await socket.send_text(frame.decode())
                    session.writing_since = None
            if session.closing:
                session.writing_since = time.monotonic()
                with contextlib.suppress(Exception):
                    await socket.close(session.close_code or closecodes.NORMAL, session.close_reason)
                session.writing_since = None
                return
            if direct is not None and direct.can_write() and not direct.backlogged():
                self._backlog = False  # caught up: back to the loop turn's flush
                if len(session.queue):
                    self.ready()
                else:
                    self._offer()

    async def _write_direct(self, direct: Direct, queue: SendQueue) -> None:
        session = self.session
        while True:
            if direct.backlogged():
                session.writing_since = time.monotonic()  # a stalled client never drains
                await direct.drained()
                session.writing_since = None
            if not len(queue) or not direct.can_write():
                return
            direct.write(queue.take_wire())

    async def _reader(self) -> None:
        max_bytes = self.edge.settings.max_frame_bytes
        while not self.session.closing:
            try:
                message = await self.socket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") if message.get("text") is not None else message.get("bytes")
            if not isinstance(data, str | bytes):
                continue
            action = dispatch(self.session, data, time.monotonic(), max_bytes)
            if action is not None:
                await self._do(action)

    async def _do(self, action: Action) -> None:
        if isinstance(action, Reply):
            self._send(action.frame)
        elif isinstance(action, Call):
            body = await self.edge.call_as(self.who, action.method, action.args)
            info = self.edge.reply_users(self.session, action.method, body)  # a page's users first
            if info is not None:
                self._send(info)
            self._send(frames.reply(action.reply_to, body))
        elif isinstance(action, Notify):
            self.edge.typing(self.session, action.channel)
        else:  # a presence frame (presence_sub, presence_query, presence_active)
            self.edge.presence_frame(self.session, action.frame)

    def _send(self, frame: bytes) -> None:
        if self.session.send(frame):
            self.wake.set()
        else:
            self.edge.evict(self.session)  # a client that sends but does not read


def _consume(task: asyncio.Task[None]) -> None:
    """Retrieve a finished task's outcome (a client gone mid-write is no error)."""
    if task.done() and not task.cancelled():
        task.exception()
