"""The ephemeral bus and online store adapters: in-process, and on the real Redis."""

from __future__ import annotations

import asyncio

import pytest

from ephemeral import Bus, OnlineStore
from ephemeral.factory import Ephemeral
from ephemeral.memory import MemoryOnline
from wire import bus
from wire.bus import Counts, Envelope


async def _until(got: list[Envelope], n: int) -> None:
    for _ in range(200):
        if len(got) >= n:
            return
        await asyncio.sleep(0.02)


async def _bus_contract(a: Bus, b: Bus, other: Bus) -> None:
    got_a: list[Envelope] = []
    got_b: list[Envelope] = []
    got_other: list[Envelope] = []
    await a.subscribe("T1", got_a.append)
    await b.subscribe("T1", got_b.append)
    await other.subscribe("T2", got_other.append)
    await asyncio.sleep(0.1)  # Redis: the subscriptions are in place
    sent = bus.UserFrame("T1", "notifier", "U1", {"type": "desktop_notification", "title": "hi"})
    await a.publish(sent)
    await a.publish(bus.Typing("T1", "edge-a", "C1", "U1"))
    await _until(got_b, 2)
    await _until(got_a, 2)
    assert got_a == got_b == [sent, bus.Typing("T1", "edge-a", "C1", "U1")]
    await b.unsubscribe("T1")
    await asyncio.sleep(0.1)
    await a.publish(bus.Typing("T1", "edge-a", "C1", "U2"))
    await _until(got_a, 3)
    await asyncio.sleep(0.1)
    assert len(got_a) == 3 and len(got_b) == 2
    assert got_other == []  # another workspace's channel heard nothing of T1


async def _online_contract(online: OnlineStore) -> None:
    await online.report("T1", "edge-a", {"U1": Counts(1, 1, 5.0), "U2": Counts(0, 2, 1.0)}, ttl_s=0.6)
    await online.report("T1", "edge-b", {"U1": Counts(0, 1, 2.0)}, ttl_s=30)
    await online.report("T2", "edge-a", {"U9": Counts(1, 1, 0.0)}, ttl_s=30)
    assert await online.read("T1", "U1") == {
        "edge-a": {"U1": Counts(1, 1, 5.0)},
        "edge-b": {"U1": Counts(0, 1, 2.0)},
    }
    assert set((await online.read("T1"))["edge-a"]) == {"U1", "U2"}
    await online.report("T1", "edge-a", {"U2": None}, ttl_s=0.6)
    assert set((await online.read("T1"))["edge-a"]) == {"U1"}
    await asyncio.sleep(0.8)  # edge-a stopped refreshing: it no longer counts
    assert await online.read("T1") == {"edge-b": {"U1": Counts(0, 1, 2.0)}}
    await online.refresh("T1", "edge-b", 30)
    await online.forget("T1", "edge-b")
    assert await online.read("T1") == {}
    assert "edge-a" in await online.read("T2")


async def test_in_process_bus_and_online() -> None:
    eph = Ephemeral(None)
    await _bus_contract(eph.bus(), eph.bus(), eph.bus())
    await _online_contract(eph.online)
    await eph.close()
    assert isinstance(Ephemeral().online, MemoryOnline)


@pytest.mark.redis
async def test_redis_bus_and_online(redis_url: str, redis_prefix: str) -> None:
    eph = Ephemeral(redis_url, redis_prefix)
    try:
        await _bus_contract(eph.bus(), eph.bus(), eph.bus())
        await _online_contract(eph.online)
    finally:
        await eph.close()


@pytest.mark.redis
async def test_a_malformed_envelope_on_redis_is_dropped(redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as aredis

    eph = Ephemeral(redis_url, redis_prefix)
    got: list[Envelope] = []
    receiver = eph.bus()
    try:
        await receiver.subscribe("T1", got.append)
        await asyncio.sleep(0.1)
        raw = aredis.Redis.from_url(redis_url)
        await raw.publish(redis_prefix + bus.channel("T1"), b"{not json")
        await raw.publish(redis_prefix + bus.channel("T1"), bus.encode(bus.Typing("T2", "x", "C1", "U1")))
        await raw.aclose()
        await eph.bus().publish(bus.Typing("T1", "edge", "C1", "U1"))
        await _until(got, 1)
        await asyncio.sleep(0.1)
        assert got == [bus.Typing("T1", "edge", "C1", "U1")]  # the bad and the misplaced: dropped
    finally:
        await eph.close()
