"""Freshness: a change committed at the origin until every warm edge has it.

One client per edge (both edges warm for the 1,500-user workspace) listens; a third user sets
its profile title to ``bench:<seq>:<send time>`` with ``users.profile.set`` at the origin, a
few times per second. An edge "has" the change when it applied it to its cache and pushed
the resulting ``user_change`` (pushed only after applying): the change's latency is the
later of the two receipts, measured from just before the write request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from loadtest import rawhttp
from loadtest.load_rtm import mark
from loadtest.phases import Context
from loadtest.phases.listeners import Listeners
from loadtest.stats import percentile


async def change(conn: rawhttp.HttpConnection, token: str, seq: int) -> bool:
    profile = orjson.dumps({"title": mark(seq)}).decode()
    async with asyncio.timeout(60):
        status, body = await conn.send(
            rawhttp.request("POST", "/api/users.profile.set", token, {"profile": profile})
        )
    return status == 200 and body.startswith(b'{"ok":true')


async def run(ctx: Context) -> dict[str, Any]:
    plan, stack, ws = ctx.plan, ctx.stack, ctx.small
    edges = len(stack.edge_urls)
    listeners = Listeners(ctx, stack.edge_urls, ws.tokens[2 : 2 + edges])
    conns = [await rawhttp.connect(*rawhttp.host_port(stack.origin_url)) for _ in range(4)]
    try:
        got = await listeners.connect()
        if got["ok"] != edges:
            raise RuntimeError(f"freshness: observers failed to connect: {got['errors']}")
        n, rate = plan.freshness_changes, plan.freshness_rate
        ctx.say(f"freshness: {n} profile changes at {rate:g}/s, observed on {edges} edges ...")
        start, tasks = time.monotonic(), []
        for seq in range(n):
            await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
            tasks.append(asyncio.create_task(change(conns[seq % len(conns)], ws.tokens[1], seq)))
        failures = sum(1 for ok in await asyncio.gather(*tasks) if not ok)
        await listeners.wait_for(n * edges, 30)
        seen: dict[int, list[float]] = {}
        for seq, latency in (await listeners.collect())["records"]:
            seen.setdefault(seq, []).append(latency)
        everywhere = [max(lats) for lats in seen.values() if len(lats) == edges]
        return {
            "freshness.changes": n,
            "freshness.edges": edges,
            "freshness.p50_ms": round(percentile(everywhere, 50), 1),
            "freshness.p99_ms": round(percentile(everywhere, 99), 1),
            "freshness.missing": n - len(everywhere),
            "freshness.write_failures": failures,
        }
    finally:
        for conn in conns:
            conn.close()
        await listeners.close()
