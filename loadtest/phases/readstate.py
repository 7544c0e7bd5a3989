"""Read state: the hello with counts, client.counts at the edge vs the origin's database, and
the cost of a post to a huge channel (no per-member work: the goal is a ratio >= 0.9).

- ``readstate.hello_bytes_32000``: rtm.connect answer + hello (now with every conversation's
  last_read, latest, counts) of a typical user, and ``readstate.hello_ratio_32000``, the fat
  ``rtm.start``'s bytes over it;
- ``readstate.counts_edge_over_origin``: ``client.counts`` answered by a warm edge from memory
  vs the origin's ``client.counts`` computing the same answer from its tables with one grouped
  query (:mod:`origin.api.methods.readstate`). Both over HTTP with the same load generator as
  the query phase (:func:`loadtest.phases.query.load`: the same client processes, closed loop,
  the same concurrency and duration, the same requests for the same users' tokens), in
  interleaved rounds of which each side's best counts; before each edge round, one call per
  client token (a warm edge has checked its callers' tokens with the origin already);
- ``readstate.post_cost``: posts per second (each one committed) to #general of the large
  workspace over posts per second to a 10-member channel of the same workspace.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from loadtest.phases import Context
from loadtest.phases.boot import probe
from loadtest.phases.query import load
from loadtest.rawhttp import request
from loadtest.stats import ratio
from origin.service import conversations, messages
from origin.service.auth import authenticate
from origin.store.shards import Store


async def _rate(n: int, call: Any) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return n / max(time.perf_counter() - start, 1e-9)


async def _warm(url: str, tokens: list[str]) -> None:
    """One call per client token first: a warm edge has checked each token with the origin
    (its token cache keeps the answer 30 s, as for any client calling more often), so the
    measured calls are the edge's own work, not the origin's token checks."""
    async with httpx.AsyncClient(timeout=60) as http:
        for t in tokens:
            got = await http.get(url + "/api/client.counts", headers={"Authorization": f"Bearer {t}"})
            assert got.json().get("ok"), got.text[:200]


async def run(ctx: Context) -> dict[str, Any]:
    ws = ctx.large
    label = "32000"
    ctx.say("readstate: hello bytes ...")
    got = await probe(ctx, ws)
    out: dict[str, Any] = {
        f"readstate.hello_bytes_{label}": got["thin_bytes"],
        f"readstate.hello_ratio_{label}": ratio(got["fat_bytes"], got["thin_bytes"]),
    }
    token = ws.tokens[1]
    clients = ws.tokens[1:201]
    ops = [[request("GET", "/api/client.counts", t)] for t in clients]
    store = await Store.open(ctx.stack.cfg.database_urls)
    try:
        caller = await authenticate(store, token)
        async with httpx.AsyncClient() as http:
            headers = {"Authorization": f"Bearer {token}"}
            for url in (ctx.stack.edge_urls[0], ctx.stack.origin_url):
                first = (await http.post(url + "/api/client.counts", headers=headers)).json()
                assert first.get("ok"), first
        best: dict[str, dict[str, Any]] = {}
        errors = {"edge": 0, "origin": 0}
        for r in range(ctx.plan.query_rounds):
            for name, url in (("edge", ctx.stack.edge_urls[0]), ("origin", ctx.stack.origin_url)):
                ctx.say(
                    f"readstate: client.counts round {r + 1}/{ctx.plan.query_rounds}, {name}, "
                    f"{ctx.plan.query_concurrency} clients, {ctx.plan.query_seconds:g}s ..."
                )
                if name == "edge":
                    await _warm(url, clients)
                got = await load(ctx, url, ops)
                errors[name] += got["errors"]
                if name not in best or got["qps"] > best[name]["qps"]:
                    best[name] = got
        edge_qps, origin_qps = best["edge"]["qps"], best["origin"]["qps"]
        out |= {
            "readstate.counts_edge_qps": round(edge_qps, 1),
            "readstate.counts_origin_qps": round(origin_qps, 1),
            "readstate.counts_edge_over_origin": ratio(edge_qps, origin_qps),
            "readstate.counts_concurrency": ctx.plan.query_concurrency,
            "readstate.counts_errors": errors["edge"] + errors["origin"],
            "readstate.counts_edge_errors": errors["edge"],
            "readstate.counts_origin_errors": errors["origin"],
        }
        ctx.say("readstate: post cost, #general vs a 10-member channel ...")
        small = await conversations.create(store, caller, f"rs-small-{int(time.time())}", False)
        others = [p.id for p in ws.people if p.id != caller.user_id][:9]
        await conversations.invite(store, caller, small["id"], others)
        posts = 30 if ctx.plan.name == "quick" else 200

        async def to(channel: str) -> Any:
            async def post() -> None:
                await messages.post(store, caller, channel, "read state <!here> bench")

            return post

        big_rate = await _rate(posts, await to(ws.general))
        small_rate = await _rate(posts, await to(small["id"]))
        out |= {
            "readstate.post_per_s_big": round(big_rate, 1),
            "readstate.post_per_s_small": round(small_rate, 1),
            "readstate.post_cost": ratio(big_rate, small_rate),
        }
    finally:
        await store.close()
    return out
