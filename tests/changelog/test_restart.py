"""A Redis restart mid-follow: a throwaway redis-server (never the shared one) is killed and
restarted empty; the relay republishes; every subscriber sees each offset once, in order, or
an explicit TooOld when the republished history no longer reaches back to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from changelog import LogReader, RedisLog, TooOld
from tests.spare_redis import SpareRedis

from .conftest import events, nothing_more, take

pytestmark = pytest.mark.redis

PREFIX = "flanneltest:restart:"


@pytest.fixture
async def relay_log(spare_redis: SpareRedis) -> AsyncIterator[RedisLog]:
    log = RedisLog(spare_redis.url, PREFIX, 1000, 3600.0, trim_every_s=None)
    yield log
    await log.close()


async def test_restart_mid_follow(spare_redis: SpareRedis, relay_log: RedisLog) -> None:
    relay = relay_log
    edge = RedisLog(spare_redis.url, PREFIX, 1000, 3600.0)
    reader = LogReader(edge, block_s=1, backoff_cap_s=0.2)
    slow_reader = LogReader(edge, max_buffer=2, batch=2, backoff_cap_s=0.2)
    try:
        epoch = await relay.epoch()
        await relay.append("TA", events(1, 5))
        await relay.append("TB", events(1, 3))
        sub_a = await reader.subscribe("TA")
        sub_b = await reader.subscribe("TB")
        slow = await slow_reader.subscribe("TA")  # mostly reads the log itself
        assert await take(sub_a, 5) == events(1, 5)
        assert await take(sub_b, 3) == events(1, 3)
        assert await take(slow, 2) == events(1, 2)

        spare_redis.kill()
        await asyncio.sleep(0.5)  # readers see the connection drop and back off
        spare_redis.start()

        new_epoch = await relay.epoch()
        assert new_epoch != epoch  # the relay's cue to republish from its outbox
        await relay.append("TA", events(1, 5))  # republished with the same offsets
        await relay.append("TA", events(6, 10))  # then the new ones
        await relay.append("TB", events(6, 8))  # TB's outbox no longer holds 4 and 5

        assert await take(sub_a, 5) == events(6, 10)
        with pytest.raises(TooOld) as err:
            await take(sub_b, 1)
        assert err.value.floor == 6
        assert await take(slow, 8) == events(3, 10)

        await relay.append("TA", events(11, 11))
        assert await take(sub_a, 1) == events(11, 11)
        assert await take(slow, 1) == events(11, 11)
        await nothing_more(sub_a)
        await nothing_more(slow)
    finally:
        await reader.close()
        await slow_reader.close()
        await edge.close()


async def test_restart_while_nothing_republished_yet(spare_redis: SpareRedis, relay_log: RedisLog) -> None:
    """Events appended before the reader reconnects are still delivered exactly once."""
    relay = relay_log
    edge = RedisLog(spare_redis.url, PREFIX, 1000, 3600.0)
    reader = LogReader(edge, block_s=1, backoff_cap_s=0.2)
    try:
        await relay.append("TA", events(1, 2))
        sub = await reader.subscribe("TA", after=1)
        assert await take(sub, 1) == events(2, 2)
        spare_redis.kill()
        spare_redis.start()
        await relay.append("TA", events(1, 4))
        assert await take(sub, 2) == events(3, 4)
        await nothing_more(sub)
    finally:
        await reader.close()
        await edge.close()
