"""A client that stops reading is evicted, not waited for (issue 13, defect 2), in-process:
a socket whose writes never complete stands for a full TCP window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from flannel.connection import Connection
from flannel.rtm.admission import Admit
from tests.flannel.cache import event
from tests.flannel.harness import InProcess, serve
from wire import closecodes
from wire.tokens import token_hash


def message(offset: int, text: str = "x") -> dict[str, Any]:
    return event(offset, "message", channel="C1", user="U1", text=text, ts=f"1700000000.{offset:06d}")


class StuckSocket:
    """Writes block once ``room`` frames went out (the client stopped reading); the close frame
    goes out unless ``close_blocks``; nothing is ever received."""

    def __init__(self, room: int, close_blocks: bool = False) -> None:
        self.room = room
        self.close_blocks = close_blocks
        self.sent: list[str] = []
        self.closed: tuple[int, str | None] | None = None
        self.dropped = 0

    async def receive(self) -> Mapping[str, Any]:
        await asyncio.Event().wait()  # the client sends nothing either
        raise AssertionError("unreachable")

    async def send_text(self, data: str) -> None:
        if len(self.sent) >= self.room:
            await asyncio.Event().wait()
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self.close_blocks:
            await asyncio.Event().wait()
        self.closed = (code, reason)

    def drop(self) -> None:
        self.dropped += 1


def connect(env: InProcess, socket: StuckSocket) -> asyncio.Task[None]:
    session = env.edge.new_session(Admit("U2", "T1", token_hash("xoxp-bob"), None))
    return asyncio.create_task(Connection(env.edge, socket, session, socket.drop).run(None))


async def until(condition: Any, wait_s: float) -> float:
    """Seconds until ``condition()`` held (fails after ``wait_s``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < wait_s, "condition not reached in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_an_overflowing_queue_leaves_the_fanout_at_once() -> None:
    async with serve(send_queue=5, write_stall_s=60.0) as env:
        socket = StuckSocket(room=1)  # the hello went out, then the window filled
        running = connect(env, socket)
        await until(lambda: env.edge.connections == 1 and socket.sent, 2)
        await env.append(*(message(11 + i) for i in range(10)))
        await env.caught_up(20)
        assert env.edge.connections == 0  # evicted while routing, not after a stall bound
        await asyncio.wait_for(running, 3)
    assert socket.closed == (closecodes.TOO_SLOW, "too slow, resume") and socket.dropped == 1
    assert env.edge.wakers == {} and env.edge.hang_ups == {} and env.edge.cache.pins("T1") == 0


async def test_a_write_that_does_not_progress_is_dropped_within_the_bound() -> None:
    async with serve(write_stall_s=0.3) as env:
        socket = StuckSocket(room=3, close_blocks=True)  # not even the close frame goes out
        running = connect(env, socket)
        await until(lambda: env.edge.connections == 1, 2)
        await env.append(*(message(11 + i) for i in range(5)))  # far below the queue's bound
        await env.caught_up(15)
        took = await until(lambda: env.edge.connections == 0, 3)
        await asyncio.wait_for(running, 3)
    assert 0.05 < took < 1.5  # the stall bound plus one sweep, not forever
    assert socket.closed is None and socket.dropped == 1  # no 4008 possible: the transport goes


async def test_a_client_that_sends_but_never_reads_is_evicted() -> None:
    async with serve(send_queue=3, write_stall_s=60.0) as env:
        socket = StuckSocket(room=0)
        pings = [f'{{"id": {i}, "type": "ping"}}' for i in range(10)]

        async def receive() -> Mapping[str, Any]:
            if pings:
                return {"type": "websocket.receive", "text": pings.pop(0)}
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        socket.receive = receive  # type: ignore[method-assign]
        running = connect(env, socket)
        await asyncio.wait_for(running, 3)
        assert env.edge.connections == 0
    assert socket.closed == (closecodes.TOO_SLOW, "too slow, resume") and socket.dropped == 1


async def test_a_slow_but_reading_client_is_left_alone() -> None:
    async with serve(write_stall_s=0.3) as env, env.ws(env.url()) as bob:
        await bob.next_of("hello")
        await env.append(*(message(11 + i) for i in range(5)))
        await asyncio.sleep(0.6)  # longer than the bound: nothing is pending, nothing stalls
        got = [await bob.next_of("message") for _ in range(5)]
        assert env.edge.connections == 1
    assert [m["offset"] for m in got] == [11, 12, 13, 14, 15]
