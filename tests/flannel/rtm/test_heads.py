"""Coalesced log-head reads: callers of one loop turn share a read started after all of them,
and nobody joins a read already under way."""

from __future__ import annotations

import asyncio

import pytest

from flannel.rtm.heads import HeadReads


class Log:
    """A log whose head moves; each read answers the head as of when it started, when let go."""

    def __init__(self) -> None:
        self.head = 10
        self.started: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def last_offset(self, team_id: str) -> int:
        self.started.append(team_id)
        at_start = self.head
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return at_start


async def turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_callers_of_one_turn_share_one_read_per_workspace() -> None:
    log = Log()
    heads = HeadReads(log.last_offset)
    got = await asyncio.gather(*(heads.get("T1") for _ in range(50)), heads.get("T2"))
    assert got == [10] * 51
    assert sorted(log.started) == ["T1", "T2"] and heads.reads == 2


async def test_a_read_under_way_is_not_joined() -> None:
    """A caller arriving while a read is out waits for one of its own: the head may have moved
    since the first began (a revocation committed meanwhile must be seen)."""
    log = Log()
    log.gate.clear()
    heads = HeadReads(log.last_offset)
    first = asyncio.ensure_future(heads.get("T1"))
    await turns()
    assert log.started == ["T1"]  # out, answering 10
    log.head = 11  # committed after that read began, before the next caller arrived
    second = asyncio.ensure_future(heads.get("T1"))
    await turns()
    assert log.started == ["T1", "T1"]
    log.gate.set()
    assert (await first, await second) == (10, 11)
    assert heads.reads == 2


async def test_a_failed_read_fails_its_callers_only() -> None:
    log = Log()
    log.fail = ConnectionError("redis down")
    heads = HeadReads(log.last_offset)
    results = await asyncio.gather(heads.get("T1"), heads.get("T1"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results) and heads.reads == 1
    log.fail = None
    assert await heads.get("T1") == 10  # the next turn reads again


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    log = Log()
    log.gate.clear()
    heads = HeadReads(log.last_offset)
    gone, stays = asyncio.ensure_future(heads.get("T1")), asyncio.ensure_future(heads.get("T1"))
    await asyncio.sleep(0)
    gone.cancel()
    log.gate.set()
    assert await stays == 10
    with pytest.raises(asyncio.CancelledError):
        await gone
