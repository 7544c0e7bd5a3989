"""A bounded in-process map with a TTL per entry: token checks on the hot path (edge and router).

Plain dict work only: no task, no timer, no ``await`` per lookup (a timer per call is what made
every token check cost a task, and the cancelled timers then filled the oldest GC generation).
An entry expires lazily: a lookup of an expired key drops it, and every store first drops
expired entries from the oldest end, then the oldest ones while at ``max_entries``. Entries
are kept in insertion order (a store moves its key to the newest end), so the oldest end is
also the soonest to expire, every entry having the same TTL. The clock is injected
(``time.monotonic`` by default) so tests move time by hand.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")

Clock = Callable[[], float]


class TtlCache(Generic[V]):
    """``key -> value`` remembered for ``ttl_s`` after it was stored, at most ``max_entries``."""

    __slots__ = ("_clock", "_entries", "max_entries", "ttl_s")

    def __init__(self, ttl_s: float, max_entries: int = 100_000, clock: Clock = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        """The value, or None when absent or expired (an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def set(self, key: str, value: V) -> None:
        now = self._clock()
        entries = self._entries
        entries.pop(key, None)  # re-stored: newest again
        # Expired entries go from the oldest end (O(1) each), then the oldest while full.
        while entries:
            oldest = next(iter(entries.values()))
            if oldest[0] > now and len(entries) < self.max_entries:
                break
            entries.popitem(last=False)
        entries[key] = (now + self.ttl_s, value)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def items(self) -> Iterator[tuple[str, V]]:
        """Live entries (a snapshot: deleting while iterating is safe)."""
        now = self._clock()
        return iter([(k, v) for k, (expires, v) in self._entries.items() if expires > now])
