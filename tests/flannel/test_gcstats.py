"""The full-collection counter the edge reports (``gc_full_collections`` in /internal/stats)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from flannel import gcstats
from tests.flannel.harness import SECRET, serve
from wire.http import SERVICE_HEADER


def test_only_full_collections_are_counted_and_install_is_idempotent() -> None:
    gcstats.install()
    gcstats.install()
    assert sum(1 for cb in gc.callbacks if cb is gcstats._COUNTER) == 1
    before = gcstats.full_collections()
    gc.collect(0)
    gc.collect(1)
    assert gcstats.full_collections() == before
    gc.collect()
    assert gcstats.full_collections() == before + 1


async def test_the_edge_reports_its_full_collections() -> None:
    async with serve() as env, env.http() as http:
        first = (await http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})).json()
        gc.collect()
        second = (await http.get("/internal/stats", headers={SERVICE_HEADER: SECRET})).json()
    assert second["gc_full_collections"] >= first["gc_full_collections"] + 1


# -- QuietCollections: full collections once due, at a quiet moment ----------------------------


def policy(**kw: float) -> gcstats.QuietCollections:
    args = {"growth": 2.0, "floor": 100, "quiet_cpu": 0.02, "quiet_s": 10.0, "max_wait_s": 600.0} | kw
    p = gcstats.QuietCollections(**args)  # type: ignore[arg-type]
    p.started(0.0, 0.0, 50)
    return p


def test_nothing_runs_until_the_old_generation_grew_past_the_floor_and_the_factor() -> None:
    p = policy()
    assert not p.due(99) and p.due(100)  # the floor (baseline 50: twice is 100 too)
    p.collected(0.0, 400)
    assert not p.due(799) and p.due(800)  # twice what the last full collection left
    p.frozen()  # a freeze empties the oldest generation: from nothing again
    assert p.due(100) and not p.due(99)


def test_a_due_collection_waits_for_quiet_seconds_in_a_row() -> None:
    p = policy()
    counted: list[int] = []

    def old() -> int:
        counted.append(1)
        return 1_000  # due all along

    cpu = 0.0
    for t in range(1, 31):  # busy: half a core, every second for 30 s
        cpu += 0.5
        assert not p.decide(float(t), cpu, old)
    assert counted == []  # never counted while busy: counting walks the generation
    for t in range(31, 41):  # quiet (1% of a core) for 10 s, checked every second
        cpu += 0.01
        assert p.decide(float(t), cpu, old) == (t == 40)
    p.collected(40.0, 200)
    cpu += 0.5
    assert not p.decide(41.0, cpu, old)  # busy again: the quiet run starts over
    for t in range(42, 52):
        cpu += 0.01
        assert not p.decide(float(t), cpu, lambda: 399)  # quiet, but not due (400 is twice 200)
    assert p.decide(52.0, cpu + 0.01, lambda: 400)


def test_a_process_never_quiet_still_collects_once_max_wait_passed() -> None:
    p = policy(max_wait_s=60.0)
    cpu = 0.0
    for t in range(1, 60):
        cpu += 0.9
        assert not p.decide(float(t), cpu, lambda: 10_000)
    assert p.decide(60.0, cpu + 0.9, lambda: 10_000)
    p.collected(60.0, 10_000)
    assert not p.decide(61.0, cpu + 1.8, lambda: 50_000)  # the wait starts over


def test_bad_settings_are_refused() -> None:
    for kw in ({"growth": 1.0}, {"quiet_cpu": 0.0}, {"max_wait_s": 0.0}, {"floor": -1}):
        with pytest.raises(ValueError):
            gcstats.QuietCollections(**kw)  # type: ignore[arg-type]


class Eager(gcstats.QuietCollections):
    """Always due: every quiet check collects."""

    def due(self, old_objects: int) -> bool:
        return True


async def test_keep_owns_the_full_collections_while_it_runs() -> None:
    """While :func:`gcstats.keep` runs, the collector starts no full collection of its own
    (generation 2's threshold out of reach); it runs those its policy decides, counted like
    any other; cancelled, the thresholds are back. One policy per process."""
    gcstats.install()
    thresholds = gc.get_threshold()
    eager = Eager(quiet_cpu=1.0, quiet_s=0.0, check_s=0.01)
    before = gcstats.full_collections()
    keeper = asyncio.create_task(gcstats.keep(eager))
    try:
        await asyncio.sleep(0.05)
        assert gc.get_threshold() == (thresholds[0], thresholds[1], gcstats.NEVER)
        with pytest.raises(RuntimeError):
            await gcstats.keep(gcstats.QuietCollections())
        async with asyncio.timeout(5):
            while eager.collections < 2:  # noqa: ASYNC110 - the policy's own count
                await asyncio.sleep(0.01)
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    assert gc.get_threshold() == thresholds
    assert gcstats.full_collections() >= before + eager.collections >= before + 2


async def test_serving_runs_main_under_the_policy_and_stops_with_it() -> None:
    thresholds = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    async def main() -> str:
        await asyncio.sleep(0)
        seen.append(gc.get_threshold())
        return "done"

    assert await gcstats.serving(main()) == "done"
    assert seen == [(thresholds[0], thresholds[1], gcstats.NEVER)] and gc.get_threshold() == thresholds


def test_an_idle_process_counts_its_old_generation_again_only_after_promotions() -> None:
    p = policy(quiet_s=0.0)
    counts: list[int] = []

    def old() -> int:
        counts.append(1)
        return 10  # under the floor: never due

    for t in range(1, 6):  # quiet, nothing promoted since the first count
        assert not p.decide(float(t), 0.0, old, promotions=3)
    assert len(counts) == 1
    assert not p.decide(6.0, 0.0, old, promotions=4)  # a younger collection promoted some
    assert len(counts) == 2
    p.frozen()  # a freeze: counted afresh
    assert not p.decide(7.0, 0.0, old, promotions=4) and len(counts) == 3
    assert not p.decide(8.0, 0.0, old) and not p.decide(9.0, 0.0, old)  # unknown: always counted
    assert len(counts) == 5
