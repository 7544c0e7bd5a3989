"""Single-flight, batched asks (:class:`wire.batching.BatchCalls`)."""

from __future__ import annotations

import asyncio

import pytest

from wire.batching import MAX_BATCH, BatchCalls
from wire.tokencheck import MAX_TOKENS


class Upper:
    """A fetch that answers each key upper-cased, recording the batches it was given."""

    def __init__(self, delay: float = 0.01, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.delay = delay
        self.fail = fail

    async def __call__(self, keys: list[str]) -> list[str]:
        self.batches.append(keys)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("origin down")
        return [k.upper() for k in keys]


async def test_keys_asked_together_go_in_one_call_and_repeats_share_it() -> None:
    fetch = Upper()
    calls = BatchCalls(fetch, max_batch=100)
    got = await asyncio.gather(*(calls.get(k) for k in ["a", "b", "a", "c"]))
    assert got == ["A", "B", "A", "C"]
    assert fetch.batches == [["a", "b", "c"]] and (calls.calls, calls.keys) == (1, 3)


async def test_batches_are_bounded_and_so_are_calls_in_flight() -> None:
    fetch = Upper()
    calls = BatchCalls(fetch, max_batch=3, max_inflight=1)
    keys = [f"k{i}" for i in range(7)]
    assert await asyncio.gather(*(calls.get(k) for k in keys)) == [k.upper() for k in keys]
    assert [len(b) for b in fetch.batches] == [3, 3, 1]


async def test_a_window_gathers_keys_asked_for_over_time_into_one_call() -> None:
    fetch = Upper()
    calls = BatchCalls(fetch, max_batch=100, window_s=0.05)

    async def later(key: str, after_s: float) -> str:
        await asyncio.sleep(after_s)
        return await calls.get(key)

    got = await asyncio.gather(later("a", 0), later("b", 0.01), later("c", 0.02))
    assert got == ["A", "B", "C"] and fetch.batches == [["a", "b", "c"]]
    assert await BatchCalls(fetch, window_s=0).get("d") == "D"  # no window: this loop turn
    with pytest.raises(ValueError):
        BatchCalls(fetch, window_s=-1)


async def test_a_failed_call_fails_its_keys_and_the_next_call_is_fresh() -> None:
    fetch = Upper(fail=True)
    calls = BatchCalls(fetch)
    results = await asyncio.gather(calls.get("a"), calls.get("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    fetch.fail = False
    assert await calls.get("a") == "A"


async def test_a_caller_going_away_does_not_cancel_the_call_for_others() -> None:
    fetch = Upper(delay=0.05)
    calls = BatchCalls(fetch)
    leaving = asyncio.create_task(calls.get("a"))
    staying = asyncio.create_task(calls.get("a"))
    await asyncio.sleep(0.01)
    leaving.cancel()
    assert await staying == "A"


async def test_a_wrong_number_of_answers_fails_the_call() -> None:
    async def short(keys: list[str]) -> list[str]:
        return []

    with pytest.raises(ValueError, match="0 answers for 1 keys"):
        await BatchCalls(short).get("a")


def test_bounds_are_checked_and_the_default_batch_is_what_the_origin_takes() -> None:
    for bad in ({"max_batch": 0}, {"max_inflight": 0}, {"window_s": -0.1}):
        with pytest.raises(ValueError):
            BatchCalls(Upper(), **bad)  # type: ignore[arg-type]
    assert BatchCalls(Upper()).max_batch == MAX_BATCH == MAX_TOKENS
