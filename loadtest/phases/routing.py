"""Routing: the placement simulation (``loadtest.routing_sim``), per strategy."""

from __future__ import annotations

import asyncio
from typing import Any

from loadtest.routing_sim import simulate


async def run(workspaces: int, edges: int) -> dict[str, Any]:
    scores = await asyncio.to_thread(simulate, workspaces=workspaces, edges=edges, seed=0)
    out: dict[str, Any] = {"routing.workspaces": workspaces, "routing.edges": edges}
    for strategy, metrics in scores.items():
        for metric in ("max_over_mean", "moved_per_change_x_n", "warm_share"):
            out[f"routing.{strategy}.{metric}"] = round(metrics[metric], 3)
    return out
