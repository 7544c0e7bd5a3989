"""Connection memory: what one idle WebSocket session costs an edge.

One client warms the large workspace on edge ``b`` (untouched by the query load, so freed
memory from it does not hide the cost), then the edge's RSS is read, N clients connect and
get their hello, and after a pause the RSS is read again: (after - before) / N. In the
embedded stack the RSS is the one process holding origin and edges. Against a stack given by
its URLs the edge's pid is looked up from its port (``loadtest.stack.local_pid``); when it is
not on this host the phase is skipped (``connection.note``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from loadtest.phases import Context
from loadtest.phases.listeners import Listeners
from loadtest.stack import rss_kib


async def run(ctx: Context) -> dict[str, Any]:
    n = ctx.plan.idle_connections
    edge = ctx.stack.edges[min(1, len(ctx.stack.edges) - 1)]
    url, pid = edge.url, edge.pid
    if pid is None:
        return {
            "connection.idle_kib": None,
            "connection.note": f"skipped: no local process found "
            f"listening for {url}, so the edge's memory cannot be read",
        }
    tokens = ctx.large.client_tokens[: n + 1]
    warm = Listeners(ctx, [url], tokens[:1])
    idle = Listeners(ctx, [url], tokens[1:])
    try:
        ctx.say(f"connection: warming edge b with one client, then {n} idle connections ...")
        await warm.connect()
        await idle.workers.recv("ready", 120)
        idle.ready = True
        await asyncio.sleep(1.0)
        before = rss_kib(pid)
        got = await idle.connect()
        await asyncio.sleep(2.0)
        after = rss_kib(pid)
        if got["failed"]:
            ctx.say(f"connection: {got['failed']} failed: {got['errors']}")
        out: dict[str, Any] = {}
        if ctx.stack.external and sum(e.pid == pid for e in ctx.stack.edges) > 1:
            out["connection.note"] = f"pid {pid} serves more than this edge: its RSS covers them all"
        return {
            **out,
            "connection.clients": got["ok"],
            "connection.failed": got["failed"],
            "connection.idle_kib": round((after - before) / max(1, got["ok"]), 1),
            "connection.rss_before_mib": round(before / 1024, 1),
            "connection.rss_after_mib": round(after / 1024, 1),
        }
    finally:
        await idle.close()
        await warm.close()
