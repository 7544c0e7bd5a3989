"""The full-collection counter the edge reports (``gc_full_collections`` in /internal/stats)."""

from __future__ import annotations

import gc

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
