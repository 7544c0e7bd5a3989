"""The edge's WebSocket protocol's lean parts (``flannel.transport``): the inbox that stands for
uvicorn's ``asyncio.Queue`` of received messages, and the ``writable`` flag, each behaving as
the asyncio object it replaces does for uvicorn (FIFO, waiters woken, cancellation safe)."""

from __future__ import annotations

import asyncio

import pytest

from flannel.transport import _Inbox, _Writable


async def test_the_inbox_is_fifo_and_holds_nothing_while_empty() -> None:
    inbox = _Inbox()
    assert inbox.empty() and inbox.qsize() == 0 and inbox._items is None
    for n in range(3):
        inbox.put_nowait({"n": n})
    assert not inbox.empty() and inbox.qsize() == 3
    assert [(await inbox.get())["n"] for _ in range(3)] == [0, 1, 2]
    assert inbox.empty() and inbox._items is None and inbox._getters is None
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()


async def test_a_waiting_getter_is_woken_by_a_put() -> None:
    inbox = _Inbox()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put_nowait({"type": "websocket.receive", "text": "hi"})
    assert await asyncio.wait_for(getter, 1) == {"type": "websocket.receive", "text": "hi"}
    assert inbox._getters is None


async def test_a_getter_cancelled_after_its_wake_up_passes_the_message_on() -> None:
    inbox = _Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("m")
    first.cancel()  # woken (its future has its result) but cancelled before it ran
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "m"
    assert inbox.empty() and inbox._getters is None


async def test_a_cancelled_getter_loses_nothing_put_later() -> None:
    inbox = _Inbox()
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    inbox.put_nowait("later")
    assert await inbox.get() == "later"


async def test_writable_wakes_every_waiter_when_set() -> None:
    writable = _Writable()
    assert writable.is_set()
    assert await writable.wait() is True  # set: no wait, no future
    writable.clear()
    assert not writable.is_set()
    waiters = [asyncio.create_task(writable.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    writable.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True]
    assert writable._waiters is None


async def test_a_cancelled_writable_waiter_leaves_nothing_behind() -> None:
    writable = _Writable()
    writable.clear()
    waiter = asyncio.create_task(writable.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert writable._waiters is None
    writable.set()
    assert writable.is_set()
