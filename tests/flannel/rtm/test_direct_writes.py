"""Pre-framed writes (``flannel.connection``): one coalesced write per connection per loop turn,
the writer task only for backpressure and closing, a stalled client still evicted."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from flannel.connection import Connection
from flannel.rtm import frames
from flannel.rtm.admission import Admit
from tests.flannel.cache import event
from tests.flannel.harness import InProcess, serve
from wire import closecodes
from wire.tokens import token_hash

from .test_preframed import parse


class DirectSocket:
    """A socket whose server offers pre-framed writes; ``paused`` stands for a transport over
    its high-water mark (the client is behind)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.texts: list[str] = []  # the ASGI path: must stay unused while writes go direct
        self.closed: tuple[int, str | None] | None = None
        self.paused = False
        self.resumed = asyncio.Event()
        self.dropped = 0
        self.gone = asyncio.Event()  # the client left, or the server closed the socket
        self.on_pause: Any = None  # the connection's, called as a transport's pause_writing

    async def receive(self) -> Mapping[str, Any]:
        await self.gone.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send_text(self, data: str) -> None:
        self.texts.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)
        self.gone.set()

    def drop(self) -> None:
        self.dropped += 1

    def can_write(self) -> bool:
        return self.closed is None

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        if self.paused and self.on_pause is not None:  # past the high-water mark, mid-write
            self.on_pause()

    def take(self, data: bytes) -> bool:
        if self.closed is not None:
            return False
        self.write(data)
        return True

    def backlogged(self) -> bool:
        return self.paused

    async def drained(self) -> None:
        await self.resumed.wait()

    def frames(self) -> list[dict[str, Any]]:
        return [orjson.loads(f.data) for f in parse(b"".join(self.writes))]

    def offsets(self) -> list[int]:
        return [f["offset"] for f in self.frames() if f.get("type") == "message"]


def message(offset: int) -> dict[str, Any]:
    return event(offset, "message", channel="C1", user="U1", text="x", ts=f"1700000000.{offset:06d}")


async def until(condition: Any, wait_s: float = 3.0) -> None:
    async with asyncio.timeout(wait_s):
        while not condition():  # noqa: ASYNC110 - polling state the code under test owns
            await asyncio.sleep(0.01)


async def connected(env: InProcess, socket: DirectSocket) -> tuple[Connection, asyncio.Task[None]]:
    session = env.edge.new_session(Admit("U2", "T1", token_hash("xoxp-bob"), None))
    conn = Connection(env.edge, socket, session, socket.drop, socket)
    running = asyncio.create_task(conn.run(None))
    await until(lambda: bool(socket.writes))
    return conn, running


async def test_frames_queued_in_one_loop_turn_go_out_in_one_write() -> None:
    async with serve() as env:
        socket = DirectSocket()
        conn, running = await connected(env, socket)
        assert socket.frames()[0]["type"] == "hello"
        before = len(socket.writes)
        for i in range(5):
            conn.session.send(orjson.dumps({"type": "pong", "reply_to": i}))
            conn.wake.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(socket.writes) == before + 1  # five frames, one transport write
        assert [f.get("reply_to") for f in socket.frames()[1:]] == [0, 1, 2, 3, 4]
        assert socket.texts == [] and conn._writer_task is None  # no task, no ASGI message
        socket.gone.set()
        await asyncio.wait_for(running, 3)


async def test_events_arrive_framed_in_order_and_a_wake_without_frames_costs_nothing() -> None:
    async with serve() as env:
        socket = DirectSocket()
        conn, running = await connected(env, socket)
        await env.append(*(message(11 + i) for i in range(6)))
        await until(lambda: len(socket.offsets()) == 6)
        assert socket.offsets() == [11, 12, 13, 14, 15, 16]
        writes = len(socket.writes)
        conn.wake.set()  # nothing queued: no flush, no writer
        await asyncio.sleep(0.01)
        assert len(socket.writes) == writes and conn._writer_task is None
        socket.gone.set()
        await asyncio.wait_for(running, 3)


async def test_a_backlogged_transport_hands_writing_to_the_writer_until_it_drains() -> None:
    async with serve(write_stall_s=60.0) as env:
        socket = DirectSocket()
        conn, running = await connected(env, socket)
        socket.paused = True
        await env.append(message(11))
        await until(lambda: conn.session.writing_since is not None)  # the writer waits for it
        await env.append(message(12), message(13))
        await env.caught_up(13)
        assert socket.offsets() == [11]  # the rest waits, queued
        assert len(conn.session.queue) == 2
        socket.paused = False
        socket.resumed.set()
        await until(lambda: len(socket.offsets()) == 3)
        assert socket.offsets() == [11, 12, 13]
        await until(lambda: not conn._backlog)  # back to the loop turn's flush
        assert conn.session.writing_since is None and socket.texts == []
        await env.append(message(14))
        await until(lambda: socket.offsets() == [11, 12, 13, 14])
        socket.gone.set()
        await asyncio.wait_for(running, 3)


async def test_a_client_that_stops_reading_is_still_evicted() -> None:
    async with serve(write_stall_s=0.3) as env:
        socket = DirectSocket()
        _, running = await connected(env, socket)
        socket.paused = True  # and it never drains
        await env.append(message(11))
        await until(lambda: env.edge.connections == 0)
        await asyncio.wait_for(running, 3)
    assert socket.closed == (closecodes.TOO_SLOW, "too slow, resume") and socket.dropped == 1


async def test_a_full_queue_behind_a_backlog_closes_4008() -> None:
    async with serve(send_queue=3, write_stall_s=60.0) as env:
        socket = DirectSocket()
        _, running = await connected(env, socket)
        socket.paused = True
        await env.append(*(message(11 + i) for i in range(10)))
        await env.caught_up(20)
        await asyncio.wait_for(running, 3)
        assert env.edge.connections == 0
    assert socket.closed == (closecodes.TOO_SLOW, "too slow, resume") and socket.dropped == 1


async def test_closing_sends_what_is_queued_then_the_close_code() -> None:
    async with serve() as env:
        socket = DirectSocket()
        _, running = await connected(env, socket)
        await env.append(message(11))
        await env.caught_up(11)  # routed and queued; the drain follows in the same loop turn
        await env.edge.drain()
        await asyncio.wait_for(running, 3)
    kinds = [f["type"] for f in socket.frames()]
    assert kinds[0] == "hello" and kinds[-1] == "goodbye" and socket.offsets() == [11]
    assert socket.closed == (closecodes.GOING_AWAY, "draining")


async def test_a_live_event_to_an_idle_connection_is_written_while_it_is_routed() -> None:
    async with serve() as env:
        socket = DirectSocket()
        conn, running = await connected(env, socket)
        await until(lambda: not conn._pending)  # the hello is out
        conn.session.known.add("U1")  # the poster: no user_info frame to queue first
        flushes = 0
        flush = conn.flush

        def counted() -> None:
            nonlocal flushes
            flushes += 1
            flush()

        conn.flush = counted  # type: ignore[method-assign]
        for offset in (11, 12, 13):
            await env.append(message(offset))
            await env.caught_up(offset)
            assert socket.offsets()[-1] == offset  # out as it was routed
        assert flushes == 0 and conn._writer_task is None  # no second pass, no task
        socket.gone.set()
        await asyncio.wait_for(running, 3)


async def test_the_outlet_is_offered_only_while_the_connection_is_idle() -> None:
    async with serve() as env:
        socket = DirectSocket()
        conn, running = await connected(env, socket)
        await until(lambda: not conn._pending)
        conn.session.send(orjson.dumps({"type": "pong", "reply_to": 7}))
        conn.wake.set()  # joins this loop turn's flush
        assert conn.session.outlet is None  # an event now would be queued behind the pong
        await asyncio.sleep(0)
        assert socket.frames()[-1] == {"type": "pong", "reply_to": 7}
        assert conn.session.outlet is socket  # flushed and idle: offered again
        socket.paused = True
        late = frames.ws_text(orjson.dumps({"type": "pong", "reply_to": 8}))
        assert conn.session.outlet.take(late)
        assert conn.session.outlet is None and conn._backlog  # the transport filled: held
        assert socket.frames()[-1] == {"type": "pong", "reply_to": 8}
        socket.paused = False
        socket.resumed.set()
        await until(lambda: conn.session.outlet is socket)  # drained: offered again
        socket.gone.set()
        await asyncio.wait_for(running, 3)


async def test_the_events_of_one_read_go_out_in_one_write() -> None:
    async with serve() as env:
        socket = DirectSocket()
        conn, running = await connected(env, socket)
        await until(lambda: not conn._pending)
        conn.session.known.add("U1")
        before = len(socket.writes)
        await env.append(*(message(11 + i) for i in range(6)))  # one read of the log
        await until(lambda: len(socket.offsets()) == 6)
        assert socket.offsets() == [11, 12, 13, 14, 15, 16]
        assert len(socket.writes) == before + 1
        socket.gone.set()
        await asyncio.wait_for(running, 3)
