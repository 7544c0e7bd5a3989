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
