"""One ``/rtm`` WebSocket: moves frames between a socket and its sans-I/O ``Session``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from starlette.websockets import WebSocketDisconnect

from flannel.edge import Edge
from flannel.methods import Who
from flannel.rtm import frames
from flannel.rtm.admission import Refuse
from flannel.rtm.dispatch import Action, Call, Notify, Reply, dispatch
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
        self, edge: Edge, socket: Socket, session: Session, drop: Callable[[], None] | None = None
    ) -> None:
        self.edge = edge
        self.socket = socket
        self.session = session
        self.drop = drop
        self.wake = asyncio.Event()
        self.who = Who(session.team_id, session.user_id)
        self.evicted = False
        self._reader_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None

    async def run(self, resume_from: int | None) -> None:
        edge, session = self.edge, self.session
        try:
            refusal = await edge.open(session, resume_from, self.wake, self.hang_up)
            if refusal is not None:
                await self._refuse(refusal)
                return
            self.wake.set()
            writer = self._writer_task = asyncio.create_task(self._writer())
            reader = self._reader_task = asyncio.create_task(self._reader())
            try:
                await asyncio.wait({reader})  # the client left, the session closed, or evicted
            finally:
                reader.cancel()
                if self.evicted:
                    await self._hang_up(writer)
                else:
                    session.close(closecodes.NORMAL, "bye")  # unless it was closed for a reason
                    self.wake.set()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(writer, WRITER_GRACE_S)
                    writer.cancel()
            if not reader.cancelled() and (failed := reader.exception()) is not None:
                raise failed
        finally:
            edge.leave(session)

    def hang_up(self) -> None:
        """The edge evicted this session: stop reading and writing now (see :meth:`run`)."""
        if self.evicted:
            return
        self.evicted = True
        self.session.queue.clear()  # the client resumes from what it got; the log has the rest
        if self._reader_task is not None:
            self._reader_task.cancel()

    async def _hang_up(self, writer: asyncio.Task[None]) -> None:
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

    async def _writer(self) -> None:
        session, socket = self.session, self.socket
        while True:
            await self.wake.wait()
            self.wake.clear()
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
            self._send(frames.reply(action.reply_to, body))
        elif isinstance(action, Notify):
            self.edge.typing(self.session, action.channel)

    def _send(self, frame: bytes) -> None:
        if self.session.send(frame):
            self.wake.set()
        else:
            self.edge.evict(self.session)  # a client that sends but does not read


def _consume(task: asyncio.Task[None]) -> None:
    """Retrieve a finished task's outcome (a client gone mid-write is no error)."""
    if task.done() and not task.cancelled():
        task.exception()
