"""Fixtures for the change log: the same tests run on MemoryLog and on real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from changelog import Entry, MemoryLog, RedisLog, Subscription, TailableLog


class FakeClock:
    """Injected wall clock, so age retention is tested without sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeLog = Callable[..., TailableLog]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def team() -> str:
    return f"T{secrets.token_hex(4).upper()}"


@pytest.fixture(params=["memory", "redis"])
async def make_log(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[MakeLog]:
    """Build logs of the parametrized backend (Redis under this test's key prefix)."""
    made: list[TailableLog] = []
    prefix = request.getfixturevalue("redis_prefix") if request.param == "redis" else ""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def make(max_len: int | None = 1000, max_age_s: float | None = 3600.0, **kw: Any) -> TailableLog:
        log: TailableLog
        if request.param == "redis":
            log = RedisLog(url, prefix, max_len, max_age_s, clock=clock, trim_every_s=None, **kw)
        else:
            log = MemoryLog(max_len, max_age_s, clock=clock, trim_every_s=None, **kw)
        made.append(log)
        return log

    yield make
    for log in made:
        await log.close()


def events(first: int, last: int, tag: str = "e") -> list[Entry]:
    """Events ``first..last`` whose payload names their offset."""
    return [(i, f"{tag}{i}".encode()) for i in range(first, last + 1)]


async def take(sub: Subscription, n: int, timeout_s: float = 10.0) -> list[Entry]:
    """The next ``n`` events of ``sub``, failing if they do not arrive in time."""
    got: list[Entry] = []
    async with asyncio.timeout(timeout_s):
        while len(got) < n:
            got.append(await anext(sub))
    return got


async def nothing_more(sub: Subscription, wait_s: float = 0.3) -> None:
    """Assert ``sub`` delivers nothing else for a while (no duplicates, no strays)."""
    try:
        async with asyncio.timeout(wait_s):
            extra = await anext(sub)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected event {extra!r}")
