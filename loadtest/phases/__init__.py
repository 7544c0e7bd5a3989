"""The benchmark's phases, one module each; every ``run`` returns flat ``key: figure`` pairs.

Phases against the running stack take a :class:`Context`; ``changelog``, ``routing`` and
``search`` need no stack and take their own arguments.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loadtest.plan import Plan
from loadtest.stack import Stack
from loadtest.workspace import Seeded


def progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@dataclass
class Context:
    plan: Plan
    stack: Stack
    small: Seeded  # 1,500 users: boot, freshness
    large: Seeded  # 32,000 (quick: fewer): boot, queries, connections, fanout
    storm: Seeded  # loaded by no edge until the storm
    client_cpus: set[int] | None
    client_procs: int
    say: Callable[[str], None] = field(default=progress)

    async def full_collections(self, urls: list[str]) -> int | None:
        """Full (generation 2) GC collections the edges at ``urls`` have run, summed (their
        ``/internal/stats``); None when an edge does not report them. A phase reports the
        difference before and after (goal: 0 while serving)."""
        total = 0
        for url in urls:
            count = (await self.stack.stats(url)).get("gc_full_collections")
            if count is None:
                return None
            total += int(count)
        return total


def difference(before: int | None, after: int | None) -> int | None:
    return None if before is None or after is None else after - before
