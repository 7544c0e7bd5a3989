"""How many full (generation 2) garbage collections this process ran, counted by a gc callback,
and when an edge process runs them (:class:`QuietCollections`).

A full collection walks the whole heap (a 32,000-user workspace: ~150 ms with the loop stopped),
so serving should run none; the edge reports the count in ``/internal/stats``
(``gc_full_collections``) and the benchmark compares it before and after a phase. The edge also
:func:`freeze`\\ s the heap after each workspace load (:mod:`flannel.cache.manager`): what a load
built is long-lived, and frozen objects are never scanned again (they are still freed by
reference counting when dropped; a workspace holds no reference cycles).

What is left for a full collection to walk is what was built after the last freeze: mostly the
connections' state (3,000 sessions connecting after the load). CPython starts a full
collection by its own rule (the objects promoted into the oldest generation since the last one
exceed a quarter of those it then held), at whatever moment an allocation trips it: in the
middle of an event's fanout, which then waits for the walk. The delivery path allocates
nothing per frame (:mod:`flannel.rtm.sendqueue`), so little is promoted while serving; the
edge process also leaves the decision to :class:`QuietCollections`, which keeps the automatic
full collections off and runs them itself when the process is quiet.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Generation 2's threshold while :class:`QuietCollections` decides: out of reach, so the
#: collector itself never starts a full collection (generations 0 and 1 keep theirs).
NEVER = 1 << 30


class _Counter:
    full_collections = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info.get("generation") == 2:
            self.full_collections += 1


_COUNTER = _Counter()


def install() -> None:
    """Start counting (once per process; calling again is harmless)."""
    if _COUNTER not in gc.callbacks:
        gc.callbacks.append(_COUNTER)


def full_collections() -> int:
    """Full collections since :func:`install` (0 before)."""
    return _COUNTER.full_collections


def freeze() -> None:
    """Move every object tracked now to the permanent generation (cheap: no scan)."""
    gc.freeze()
    if _POLICY is not None:
        _POLICY.frozen()


class QuietCollections:
    """When to run a full collection: once it is due, at a quiet moment.

    *Due*: the oldest generation (what is not frozen) holds ``growth`` times the objects it held
    after the last full collection or freeze, and at least ``floor``: CPython's own rule, with
    a wider factor (it uses 1.25) and a floor under which a walk is cheap and the garbage small.
    *Quiet*: the process has used at most ``quiet_cpu`` of a core at every check for the last
    ``quiet_s`` (a paced fanout to 1,500 connections uses ~5%, keepalive pings to 10,000 idle
    ones ~1.5%; a burst of connects, all of it). A due collection runs at the first quiet
    moment, or, quiet or not, once ``max_wait_s`` passed since the last one: a process that is
    never quiet still collects its cyclic garbage, later.

    The tradeoff: cyclic garbage (a closed connection's tasks and futures, exceptions with
    their frames) is held until then, so memory between collections is higher than under
    CPython's rule (bounded by the growth factor and ``max_wait_s``); a collection still stops
    the loop for its walk, only when there is little to delay, or at most once per
    ``max_wait_s`` on a process that is never quiet. The counter above counts these
    collections like any other, so the benchmark's figure stays honest.

    Pure: :meth:`decide` is given the time, the process's CPU time and a way to count the
    oldest generation (called only when the answer may be yes); :func:`keep` is the adapter
    that asks it every ``check_s``.
    """

    def __init__(
        self,
        *,
        growth: float = 2.0,
        floor: int = 100_000,
        quiet_cpu: float = 0.02,
        quiet_s: float = 10.0,
        max_wait_s: float = 600.0,
        check_s: float = 1.0,
    ) -> None:
        if growth <= 1.0 or floor < 0 or not 0.0 < quiet_cpu <= 1.0:
            raise ValueError("growth must be > 1, floor >= 0, 0 < quiet_cpu <= 1")
        if quiet_s < 0 or max_wait_s <= 0 or check_s <= 0:
            raise ValueError("quiet_s must be >= 0, max_wait_s and check_s > 0")
        self.growth, self.floor, self.quiet_cpu, self.quiet_s = growth, floor, quiet_cpu, quiet_s
        self.max_wait_s, self.check_s = max_wait_s, check_s
        self.baseline = 0  # the oldest generation's size after the last full collection / freeze
        self.collections = 0  # full collections this policy ran
        self._last: tuple[float, float] | None = None  # (time, CPU time) of the last check
        self._quiet_since: float | None = None  # quiet at every check since then
        self._counted_at: int | None = None  # promotions when last counted and found not due
        self._last_full = 0.0

    def started(self, now: float, cpu_s: float, old_objects: int) -> None:
        """Begin with the oldest generation as it is now (no full collection due yet)."""
        self._last, self._last_full, self.baseline = (now, cpu_s), now, old_objects
        self._quiet_since = None

    def frozen(self) -> None:
        """Everything moved to the permanent generation: the oldest one is empty again."""
        self.baseline = 0
        self._counted_at = None

    def due(self, old_objects: int) -> bool:
        return old_objects >= max(self.floor, self.baseline * self.growth)

    def quiet(self, now: float) -> bool:
        """Whether every check over the last ``quiet_s`` found the process quiet."""
        return self._quiet_since is not None and now - self._quiet_since >= self.quiet_s

    def decide(self, now: float, cpu_s: float, old_objects: Callable[[], int], promotions: int = -1) -> bool:
        """Whether to run a full collection now (then call :meth:`collected`).

        ``promotions``: how many younger collections moved objects into the oldest generation
        since the last full one (``gc.get_count()[2]``; -1: unknown). The oldest generation
        grows only by those, so while it is unchanged a count that found nothing due is not
        taken again (an idle process would otherwise walk its heap's list every check)."""
        last, self._last = self._last, (now, cpu_s)
        if last is None:
            self.started(now, cpu_s, old_objects())
            return False
        elapsed = now - last[0]
        if elapsed > 0 and cpu_s - last[1] <= self.quiet_cpu * elapsed:
            if self._quiet_since is None:
                self._quiet_since = last[0]
        else:
            self._quiet_since = None
        if not (now - self._last_full >= self.max_wait_s or self.quiet(now)):
            return False
        if promotions >= 0 and promotions == self._counted_at:
            return False  # counted since, not due then, and nothing promoted since
        due = self.due(old_objects())
        self._counted_at = None if due or promotions < 0 else promotions
        return due

    def collected(self, now: float, old_objects: int) -> None:
        self.collections += 1
        self._last_full, self.baseline = now, old_objects
        self._counted_at = None


_POLICY: QuietCollections | None = None


def _old_objects() -> int:
    return len(gc.get_objects(2))


async def keep(
    policy: QuietCollections,
    clock: Callable[[], float] = time.monotonic,
    cpu: Callable[[], float] = time.process_time,
) -> None:
    """Decide this process's full collections by ``policy`` until cancelled; then the
    collector's own thresholds are back. One policy per process (the thresholds are global)."""
    global _POLICY
    if _POLICY is not None:
        raise RuntimeError("a full-collection policy already runs in this process")
    thresholds = gc.get_threshold()
    _POLICY = policy
    gc.set_threshold(thresholds[0], thresholds[1], NEVER)
    try:
        policy.started(clock(), cpu(), _old_objects())
        while True:
            await asyncio.sleep(policy.check_s)
            if policy.decide(clock(), cpu(), _old_objects, gc.get_count()[2]):
                gc.collect(2)
                policy.collected(clock(), _old_objects())
    finally:
        gc.set_threshold(*thresholds)
        _POLICY = None


async def serving(main: Awaitable[T], policy: QuietCollections | None = None) -> T:
    """``main`` (a server process's whole life) with ``policy`` deciding its full collections."""
    keeper = asyncio.create_task(keep(policy or QuietCollections()), name="flannel-full-collections")
    try:
        return await main
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
