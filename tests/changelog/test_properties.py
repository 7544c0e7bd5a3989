"""Property: whatever the batch sizes, buffer sizes and start offsets, every subscriber sees
exactly the events after its offset, in order, once. And MemoryLog's own wait()."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changelog import LogReader, MemoryLog

from .conftest import events, take


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.integers(1, 9), min_size=1, max_size=12),
    starts=st.lists(st.integers(0, 40), min_size=1, max_size=4),
    max_buffer=st.integers(1, 8),
    batch=st.integers(1, 8),
)
def test_every_subscriber_sees_each_offset_once(
    batches: list[int], starts: list[int], max_buffer: int, batch: int
) -> None:
    async def scenario() -> None:
        log = MemoryLog(max_len=None, max_age_s=None)
        reader = LogReader(log, max_buffer=max_buffer, batch=batch)
        total = sum(batches)
        subs = []
        offset = 0
        for i, size in enumerate(batches):
            if i < len(starts):
                subs.append(await reader.subscribe("T1", after=min(starts[i], offset)))
            await log.append("T1", events(offset + 1, offset + size))
            offset += size
            await asyncio.sleep(0)
        try:
            for sub in subs:
                after = sub.position
                assert await take(sub, total - after, timeout_s=5) == events(after + 1, total)
        finally:
            await reader.close()

    asyncio.run(scenario())


async def test_memory_wait() -> None:
    log = MemoryLog()
    assert await log.wait("T1", 0, timeout_s=0.01) is False
    waiter = asyncio.create_task(log.wait("T1", 1, timeout_s=5))
    await log.append("T1", events(1, 1))
    await asyncio.sleep(0.01)
    assert not waiter.done()  # offset 1 is not above 1
    await log.append("T1", events(2, 2))
    assert await waiter is True
    assert await log.wait("T1", 1) is True
