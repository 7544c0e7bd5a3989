"""Reconnect storm: N clients of one workspace reconnect at once to a cold edge.

A cold edge is a fresh process in a region of its own (embedded stack: an edge started with
the others and used by nothing until now), so neither its cache nor a regional snapshot holds
the workspace. All clients start at the same instant, with ``resume_from=0`` (the workspace
has not changed since), and count as connected when their hello arrives. The origin's
``snapshots_served`` before and after says what the storm cost it: single-flight means one
snapshot load, not N.

Three storms, each on its own cold edge:

- ``storm.*``: as in the design, through the router: every client calls ``rtm.connect`` at
  the router (a new HTTP connection each, ``region=storm``), which checks the token at the
  origin (cached per token; the tokens new at one moment in one batch call:
  ``storm.token_check_round_trips``, ``storm.tokens_per_round_trip``), places it on the cold
  edge (the only edge of region ``storm``) and signs a ticket; the client then opens the
  WebSocket at the edge with it.
- ``storm.ticketed.*``: the router's work done beforehand: the benchmark signs the tickets
  itself with the shared secret and the clients go straight to the WebSocket (the edge's
  part alone).
- ``storm.edge_connect.*``: no router: every client calls ``rtm.connect`` at the cold edge
  on a new HTTP connection, so the edge checks each token at the origin.

Against a stack given by its URLs only the edge the user names as cold (``--storm-edge-url``)
can be used: through the router when ``--router-url`` and ``--storm-region`` are given, else
with ``rtm.connect`` at that edge; without one the phase is skipped (``storm.note``).
"""

from __future__ import annotations

from typing import Any

from loadtest.phases import Context
from loadtest.phases.listeners import Listeners
from loadtest.stack import STORM_REGION, EdgeProc
from loadtest.stats import percentile
from wire.tickets import issue
from wire.tokens import token_hash as hash_token

KEYS = ("storm.clients", "storm.origin_snapshot_loads", "storm.all_connected_s")


def tickets(ctx: Context, edge: EdgeProc, n: int) -> list[str]:
    ws = ctx.storm
    base = edge.url.replace("http://", "ws://", 1) + "/rtm?ticket="
    return [
        base
        + issue(
            ctx.stack.cfg.secret,
            user,
            ws.team_id,
            edge.edge_id,
            ttl_s=300,
            resume_from=0,
            token_hash=hash_token(token),
        )
        for user, token in zip(ws.client_users[:n], ws.client_tokens[:n], strict=True)
    ]


async def one(ctx: Context, edge: EdgeProc, how: str, region: str | None = None) -> dict[str, Any]:
    """``how``: ``router`` (rtm.connect at the router, placed in ``region``), ``ticketed``
    (tickets signed here) or ``edge`` (rtm.connect at the edge)."""
    stack, n = ctx.stack, ctx.plan.storm_clients
    tokens = ctx.storm.client_tokens[:n]
    if how == "router":
        assert stack.router_url is not None
        listeners = Listeners(
            ctx, [stack.router_url], tokens, concurrency=None, fresh_http=True, resume_from=0, region=region
        )
    else:
        ws_urls = tickets(ctx, edge, n) if how == "ticketed" else None
        listeners = Listeners(
            ctx, [edge.url], tokens, ws_urls=ws_urls, concurrency=None, fresh_http=True, resume_from=0
        )
    try:
        await listeners.workers.recv("ready", 120)
        listeners.ready = True
        stats = await stack.stats(stack.origin_url)
        before = stats["snapshots_served"]
        calls0, checked0 = stats.get("token_check_calls", 0), stats.get("tokens_checked", 0)
        said = {
            "router": f"each calling rtm.connect at the router (region {region})",
            "ticketed": "with tickets signed by the benchmark",
            "edge": "each calling rtm.connect at the edge",
        }[how]
        ctx.say(
            f"storm: {n} clients of a {ctx.storm.users}-user workspace at once on a cold edge, {said} ..."
        )
        got = await listeners.connect(delay=0.5)
        stats = await stack.stats(stack.origin_url)
        after = stats["snapshots_served"]
        calls = stats.get("token_check_calls", 0) - calls0
        checked = stats.get("tokens_checked", 0) - checked0
        if got["failed"]:
            ctx.say(f"storm: {got['failed']} failed, e.g. {got['errors'][:2]}")
        return {
            "connected": got["ok"],
            "failed": got["failed"],
            "origin_snapshot_loads": after - before,
            "all_connected_s": round(got["all_connected_s"], 2),
            "hello_p50_ms": round(percentile(got["hello_ms"], 50), 1),
            # the origin's batch token checks: round trips, and tokens they carried
            "token_check_round_trips": calls,
            "tokens_per_round_trip": round(checked / calls, 1) if calls else None,
        }
    finally:
        await listeners.close()


async def run(ctx: Context) -> dict[str, Any]:
    stack, n = ctx.stack, ctx.plan.storm_clients
    if stack.external:
        return await given(ctx)
    cold = stack.cold_edge(STORM_REGION)
    await stack.wait_routable(cold)
    main = await one(ctx, cold, "router", STORM_REGION)
    ticketed = await one(ctx, stack.cold_edge(), "ticketed")
    direct = await one(ctx, stack.cold_edge(), "edge")
    return {
        "storm.clients": n,
        "storm.via": "router",
        **{f"storm.{k}": v for k, v in main.items()},
        **{f"storm.ticketed.{k}": v for k, v in ticketed.items()},
        **{f"storm.edge_connect.{k}": v for k, v in direct.items()},
    }


async def given(ctx: Context) -> dict[str, Any]:
    stack, n = ctx.stack, ctx.plan.storm_clients
    region = getattr(stack, "storm_region", None)
    try:
        edge = stack.cold_edge()
    except RuntimeError:
        return {
            **dict.fromkeys(KEYS),
            "storm.note": "skipped: the storm needs a cold edge the benchmark "
            "starts itself; pass --storm-edge-url (an edge known to be cold) to use one",
        }
    via = "router" if stack.router_url and region else "edge"
    got = await one(ctx, edge, via, region)
    note = (
        f"through the router (region {region}) to the given cold edge {edge.url}"
        if via == "router"
        else f"rtm.connect at the given cold edge {edge.url} (no router: pass --router-url and "
        "--storm-region to go through it)"
    )
    return {
        "storm.clients": n,
        "storm.via": via,
        "storm.note": note,
        **{f"storm.{k}": v for k, v in got.items()},
    }
