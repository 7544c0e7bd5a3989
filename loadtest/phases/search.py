"""Search at scale: delegated to ``loadtest.search_phase`` when it exists, else skipped.

That module seeds its own messages into the database it is given and reports the keys below:
tantivy and the previous engine (the database's full-text index) side by side, the index's
bulk rate, size and live lag.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

KEYS = (
    "search.p50_ms",
    "search.p99_ms",
    "search.messages",
    "search.previous_p50_ms",
    "search.previous_p99_ms",
    "search.over_previous",
    "search.index_msgs_per_s",
    "search.index_lag_p99_ms",
    "search.index_bytes_per_million",
    "search.totals_identical",
)


def available() -> bool:
    return importlib.util.find_spec("loadtest.search_phase") is not None


async def run(
    database_urls: list[str], messages: int, queries: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    if not available():
        return {**dict.fromkeys(KEYS), "search.note": "skipped: loadtest.search_phase is not there yet"}
    module = importlib.import_module("loadtest.search_phase")
    result: dict[str, Any] = await module.run(database_urls, messages, queries, seed=1, progress=progress)
    return {**dict.fromkeys(KEYS), **result}
