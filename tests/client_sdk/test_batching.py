"""Coalescing: concurrent lookups share requests; batches respect their maximum."""

from __future__ import annotations

import asyncio

import pytest

from client_sdk.batching import Coalescer


async def test_concurrent_gets_share_one_request() -> None:
    calls: list[list[str]] = []

    async def fetch(ids: list[str]) -> dict[str, str]:
        calls.append(ids)
        await asyncio.sleep(0.01)
        return {i: i.lower() for i in ids if not i.startswith("X")}

    batch: Coalescer[str] = Coalescer(fetch, window=0.005)
    results = await asyncio.gather(*(batch.get(["A", "B"]) for _ in range(10)), batch.get(["B", "C", "X1"]))
    assert calls == [["A", "B", "C", "X1"]]
    assert results[0] == {"A": "a", "B": "b"} and results[-1] == {"B": "b", "C": "c"}
    await batch.get(["A"])  # done: asked again
    assert len(calls) == 2


async def test_batches_are_split_at_max_batch() -> None:
    sizes: list[int] = []

    async def fetch(ids: list[str]) -> dict[str, int]:
        sizes.append(len(ids))
        return {i: 1 for i in ids}

    batch: Coalescer[int] = Coalescer(fetch, window=0.01, max_batch=3)
    assert len(await batch.get([f"U{i}" for i in range(7)])) == 7
    assert sorted(sizes) == [1, 3, 3]


async def test_a_failed_fetch_fails_every_waiter_and_one_caller_cancelling_does_not_cancel_others() -> None:
    gate = asyncio.Event()

    async def fetch(ids: list[str]) -> dict[str, int]:
        await gate.wait()
        raise RuntimeError("boom")

    batch: Coalescer[int] = Coalescer(fetch, window=0)
    impatient = asyncio.create_task(batch.get(["A"]))
    patient = asyncio.create_task(batch.get(["A"]))
    await asyncio.sleep(0.01)
    impatient.cancel()
    gate.set()
    with pytest.raises(RuntimeError):
        await patient
    await batch.aclose()
