"""Reconnect storm: N clients of one workspace reconnect at once to a cold edge.

A cold edge is a fresh process in a region of its own (embedded stack: an edge started with
the others and used by nothing until now), so neither its cache nor a regional snapshot holds
the workspace. All clients start at the same instant, with ``resume_from=0`` (the workspace
has not changed since), and count as connected when their hello arrives. The origin's
``snapshots_served`` before and after says what the storm cost it: single-flight means one
snapshot load, not N.

Two storms, each on its own cold edge:

- ``storm.*``: as in the design, the clients come from the router with signed tickets and
  go straight to the WebSocket. The router is not in the stack yet, so the benchmark signs
  the tickets itself with the shared secret, as the router will.
- ``storm.edge_connect.*``: no router: every client calls ``rtm.connect`` at the cold edge
  on a new HTTP connection, so the edge checks each token at the origin (N token checks
  next to the one snapshot load).
"""

from __future__ import annotations

from typing import Any

from flannel.rtm import issue
from loadtest.phases import Context
from loadtest.phases.listeners import Listeners
from loadtest.stack import EdgeProc
from loadtest.stats import percentile
from origin.service.auth import hash_token


def tickets(ctx: Context, edge: EdgeProc, n: int) -> list[str]:
    ws = ctx.storm
    base = edge.url.replace("http://", "ws://", 1) + "/rtm?ticket="
    return [base + issue(ctx.stack.cfg.secret, user, ws.team_id, edge.edge_id, ttl_s=300, resume_from=0,
                         token_hash=hash_token(token))
            for user, token in zip(ws.client_users[:n], ws.client_tokens[:n], strict=True)]  # fmt: skip


async def one(ctx: Context, edge: EdgeProc, ticketed: bool) -> dict[str, Any]:
    stack, n = ctx.stack, ctx.plan.storm_clients
    tokens = ctx.storm.client_tokens[:n]
    listeners = Listeners(ctx, [edge.url], tokens, ws_urls=tickets(ctx, edge, n) if ticketed else None,
                          concurrency=None, fresh_http=True, resume_from=0)  # fmt: skip
    try:
        await listeners.workers.recv("ready", 120)
        listeners.ready = True
        before = (await stack.stats(stack.origin_url))["snapshots_served"]
        how = "with router tickets" if ticketed else "each calling rtm.connect at the edge"
        ctx.say(f"storm: {n} clients of a {ctx.storm.users}-user workspace at once on a cold edge, {how} ...")
        got = await listeners.connect(delay=0.5)
        after = (await stack.stats(stack.origin_url))["snapshots_served"]
        if got["failed"]:
            ctx.say(f"storm: {got['failed']} failed, e.g. {got['errors'][:2]}")
        return {"connected": got["ok"], "failed": got["failed"], "origin_snapshot_loads": after - before,
                "all_connected_s": round(got["all_connected_s"], 2),
                "hello_p50_ms": round(percentile(got["hello_ms"], 50), 1)}  # fmt: skip
    finally:
        await listeners.close()


async def run(ctx: Context) -> dict[str, Any]:
    main = await one(ctx, ctx.stack.cold_edge(), ticketed=True)
    direct = await one(ctx, ctx.stack.cold_edge(), ticketed=False)
    return {"storm.clients": ctx.plan.storm_clients, **{f"storm.{k}": v for k, v in main.items()},
            **{f"storm.edge_connect.{k}": v for k, v in direct.items()}}  # fmt: skip
