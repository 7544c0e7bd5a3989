"""Queries: a warm edge against the origin for the same mix, and against a bare endpoint.

The mix, half and half, over the large workspace (seeded RNG, so every run asks the same):

- *info batch*: ten random users. Edge: one ``users.info?users=U1,...,U10``. Origin: it has
  no batch form, so ten ``users.info?user=U..`` in turn on one keep-alive connection.
- *prefix search*: the first three letters of a random user's name. Edge: one
  ``users.search?query=abc&limit=10`` (ranked, from memory). Origin: it has no user search;
  its closest single-request equivalent is ``users.lookupByEmail`` for that same user (one
  indexed lookup). That is cheaper than a prefix search would be (the only real origin
  equivalent, paging ``users.list`` through the whole workspace, is hundreds of requests),
  so the edge/origin ratio is on the conservative side.

The ops are spread over the clients' tokens (hundreds; the seeder's five when a running stack
gives no others): the edge enforces Slack's per-token tiers (the bench's origin runs
unlimited), and five tokens asking thousands of times a second would be measured answering
429s (tier 3's burst of 3,000 a token is spent within seconds in the full run).

Throughput counts ops (one batch or one search) per second, closed loop with the same number
of virtual clients on each target, after a warm-up, in interleaved rounds of which each
target's best counts (the hosts this runs on are shared and noisy). The edge is warm before
the first round: its workspace loaded and every op of the mix asked once (so the users' JSON
it keeps is encoded, as after any while of serving; the full run's rounds are long enough to
get there anyway, the quick run's single short round is not). The limit
(:mod:`loadtest.limit_server`) is a bare ASGI app answering constant bytes, served by uvicorn
with the same settings (``flannel_cli.serve.config``) in its own process on the same server
CPUs; the same constant through Starlette's full stack, the limit used before the edge's Web
API left Starlette, is measured too (``query.edge_over_starlette_limit``), and so is the same
constant answered by the HTTP protocol itself, as the edge answers its calls from memory
(``query.edge_over_protocol_limit``, the like-for-like limit; ``query.edge_over_limit`` stays
against the ASGI constant). Each target's CPU time per request (its process's, from
``/proc``, over the round) is reported beside its rate:
on a shared host it is steadier than the rates. Latency is then measured at half the edge's
peak rate, paced (open loop).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

from loadtest.clients import Workers
from loadtest.phases import Context, difference
from loadtest.rawhttp import connect, fetch, host_port, request
from loadtest.stack import local_pid
from loadtest.stats import percentile, ratio

Ops = list[list[bytes]]


def mixes(ctx: Context, count: int = 2000) -> tuple[Ops, Ops]:
    """(edge ops, origin ops): the same logical queries, each side's way."""
    ws, rng, batch = ctx.large, random.Random(1), ctx.plan.query_batch
    tokens = ws.client_tokens or ws.tokens
    edge: Ops = []
    origin: Ops = []
    for i in range(count):
        token = tokens[i % len(tokens)]
        if i % 2 == 0:
            ids = [p.id for p in rng.sample(ws.people, batch)]
            edge.append([request("GET", "/api/users.info", token, {"users": ",".join(ids)})])
            origin.append([request("GET", "/api/users.info", token, {"user": uid}) for uid in ids])
        else:
            person = rng.choice(ws.people)
            edge.append(
                [request("GET", "/api/users.search", token, {"query": person.name[:3], "limit": "10"})]
            )
            origin.append([request("GET", "/api/users.lookupByEmail", token, {"email": person.email})])
    return edge, origin


async def load(ctx: Context, url: str, ops: Ops, rate: float | None = None) -> dict[str, Any]:
    plan, k = ctx.plan, ctx.client_procs
    per = max(1, plan.query_concurrency // k)
    kwargs = [
        {
            "url": url,
            "ops": ops,
            "concurrency": per,
            "duration": plan.query_seconds,
            "warmup": plan.query_warmup,
            "rate": rate / k if rate else None,
            "seed": i,
        }
        for i in range(k)
    ]
    workers = Workers("http_load", kwargs, ctx.client_cpus)
    try:
        await workers.recv("ready")
        workers.send("go", time.monotonic() + 0.3)
        parts = await workers.recv("done")
    finally:
        workers.close()
    latencies = [x for p in parts for x in p["latencies_ms"]]
    return {
        "qps": sum(p["ops"] for p in parts) / plan.query_seconds,
        "latencies": latencies,
        "errors": sum(p["errors"] for p in parts),
        "rps": sum(p["requests"] for p in parts) / (plan.query_seconds + plan.query_warmup),
    }


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (``/proc``), or None when not visible."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_us_per_request(
    before: float | None, after: float | None, got: dict[str, Any], ctx: Context
) -> float | None:
    """A round's server CPU per request, in µs (requests of the warm-up included, as its CPU)."""
    requests = float(got["rps"]) * (ctx.plan.query_seconds + ctx.plan.query_warmup)
    if before is None or after is None or not requests:
        return None
    return round((after - before) / requests * 1e6, 1)


async def warm(url: str, ops: Ops, connections: int = 4) -> None:
    """Every request of ``ops`` once, on a few keep-alive connections."""

    async def one(part: Ops) -> None:
        conn = await connect(*host_port(url))
        try:
            for op in part:
                for raw in op:
                    await conn.send(raw)
        finally:
            conn.close()

    await asyncio.gather(*(one(ops[i::connections]) for i in range(connections)))


async def run(ctx: Context) -> dict[str, Any]:
    plan, stack = ctx.plan, ctx.stack
    edge_ops, origin_ops = mixes(ctx)
    targets = {
        "edge": (stack.edge_urls[0], edge_ops),
        "origin": (stack.origin_url, origin_ops),
        "limit": (stack.limit_url, [[request("GET", "/api/limit")]]),
        "limit_starlette": (stack.limit_url, [[request("GET", "/api/limit_starlette")]]),
        "limit_protocol": (stack.limit_protocol_url, [[request("GET", "/api/limit_protocol")]]),
    }
    pids = {name: local_pid(url) for name, (url, _) in targets.items()}
    best: dict[str, dict[str, Any]] = {}
    errors = 0
    await fetch(stack.edge_urls[0], edge_ops[0][0])  # the workspace loaded: serving starts
    await warm(stack.edge_urls[0], edge_ops)
    gc_before = await ctx.full_collections(stack.edge_urls[:1])
    for r in range(plan.query_rounds):
        for name, (url, ops) in targets.items():
            ctx.say(
                f"query: round {r + 1}/{plan.query_rounds}, {name}, closed loop, {plan.query_concurrency} "
                f"clients, {plan.query_warmup:g}+{plan.query_seconds:g}s ..."
            )
            before = cpu_seconds(pids[name])
            got = await load(ctx, url, ops)
            got["cpu_us"] = cpu_us_per_request(before, cpu_seconds(pids[name]), got, ctx)
            errors += got["errors"]
            if name not in best or got["qps"] > best[name]["qps"]:
                best[name] = got
    edge, origin, limit, slow = best["edge"], best["origin"], best["limit"], best["limit_starlette"]
    bare = best["limit_protocol"]
    half = edge["qps"] / 2
    ctx.say(f"query: edge paced at half its peak, {half:.0f} ops/s ...")
    paced = await load(ctx, stack.edge_urls[0], edge_ops, rate=half)
    gc_after = await ctx.full_collections(stack.edge_urls[:1])
    return {
        "query.users": ctx.large.users,
        "query.concurrency": plan.query_concurrency,
        "query.rounds": plan.query_rounds,
        "query.edge_qps": round(edge["qps"], 1),
        "query.origin_qps": round(origin["qps"], 1),
        "query.edge_over_origin": ratio(edge["qps"], origin["qps"]),
        "query.limit_qps": round(limit["qps"], 1),
        "query.edge_over_limit": ratio(edge["qps"], limit["qps"], 3),
        "query.limit_starlette_qps": round(slow["qps"], 1),
        "query.edge_over_starlette_limit": ratio(edge["qps"], slow["qps"], 3),
        # The same constant answered by the HTTP protocol's quick path, as the edge's calls
        # from memory are: the like-for-like limit.
        "query.limit_protocol_qps": round(bare["qps"], 1),
        "query.edge_over_protocol_limit": ratio(edge["qps"], bare["qps"], 3),
        # Server CPU per request in each target's best round (µs; None: process not visible).
        "query.edge_cpu_us": edge["cpu_us"],
        "query.limit_cpu_us": limit["cpu_us"],
        "query.limit_starlette_cpu_us": slow["cpu_us"],
        "query.limit_protocol_cpu_us": bare["cpu_us"],
        "query.edge_p99_ms": round(percentile(paced["latencies"], 99), 2),
        "query.edge_p50_ms": round(percentile(paced["latencies"], 50), 2),
        "query.edge_paced_qps": round(paced["qps"], 1),
        "query.edge_closed_p99_ms": round(percentile(edge["latencies"], 99), 2),
        "query.origin_closed_p99_ms": round(percentile(origin["latencies"], 99), 2),
        "query.origin_http_rps": round(origin["rps"], 1),
        "query.errors": errors + paced["errors"],
        # Full GC collections in the queried edge's process while it serves the phase's
        # queries, its workspace loaded (goal 0).
        "gc.full_collections_query": difference(gc_before, gc_after),
    }
