"""How many full (generation 2) garbage collections this process ran, counted by a gc callback.

A full collection walks the whole heap (a 32,000-user workspace: ~150 ms with the loop stopped),
so serving should run none; the edge reports the count in ``/internal/stats``
(``gc_full_collections``) and the benchmark compares it before and after a phase. The edge also
:func:`freeze`\\ s the heap after each workspace load (:mod:`flannel.cache.manager`): what a load
built is long-lived, and frozen objects are never scanned again (they are still freed by
reference counting when dropped; a workspace holds no reference cycles).
"""

from __future__ import annotations

import gc
from typing import Any


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
