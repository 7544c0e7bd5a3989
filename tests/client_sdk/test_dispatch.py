"""Events reach every listener in order; nothing is lost before the application listens."""

from __future__ import annotations

import asyncio

import pytest

from client_sdk import AuthError, Event, Message
from client_sdk.dispatch import EventBus


def msg(offset: int) -> Message:
    return Message(channel="C1", ts=f"{offset}.0", text=f"m{offset}", offset=offset)


async def test_events_before_the_first_listener_are_held_for_it() -> None:
    bus = EventBus()
    bus.publish(msg(1))
    bus.publish(msg(2))
    first = bus.subscribe()
    second = bus.subscribe()
    bus.publish(msg(3))
    bus.end()
    assert [e.offset async for e in first] == [1, 2, 3]
    assert [e.offset async for e in second] == [3]


async def test_handlers_run_in_order_and_survive_a_raising_one() -> None:
    bus = EventBus()
    seen: list[int | None] = []

    @bus.on("message")
    async def on_message(event: Event) -> None:
        await asyncio.sleep(0.001 * (5 - (event.offset or 0)))  # slower first: order must hold
        seen.append(event.offset)

    @bus.on("*")
    def broken(event: Event) -> None:
        raise ValueError("a bug in the application")

    for i in range(1, 5):
        bus.publish(msg(i))
    bus.end()
    await bus.drain_handlers()
    assert seen == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="unknown event type"):
        bus.on("mesage")


async def test_an_ended_session_raises_its_error_after_the_events() -> None:
    bus = EventBus()
    events = bus.subscribe()
    bus.publish(msg(1))
    bus.end(AuthError("token_revoked"))
    got = []
    with pytest.raises(AuthError):
        async for event in events:
            got.append(event.offset)
    assert got == [1]
    with pytest.raises(AuthError):  # and keeps raising
        await events.__anext__()


async def test_the_backlog_kept_while_nobody_listens_is_bounded() -> None:
    bus = EventBus(max_backlog=3)
    for i in range(10):
        bus.publish(msg(i))
    assert bus.dropped == 7
    events = bus.subscribe()
    bus.end()
    assert [e.offset async for e in events] == [7, 8, 9]
