"""Read state: the hello with counts, client.counts at the edge vs the origin's database, and
the cost of a post to a huge channel (no per-member work: the goal is a ratio >= 0.9).

- ``readstate.hello_bytes_32000``: rtm.connect answer + hello (now with every conversation's
  last_read, latest, counts) of a typical user, and ``readstate.hello_ratio_32000``, the fat
  ``rtm.start``'s bytes over it;
- ``readstate.counts_edge_over_origin``: ``client.counts`` answered by a warm edge (HTTP,
  sequential calls) vs the origin computing the same counts from its tables with one grouped
  query (:func:`origin.service.readstate.counts_for_user`), in-process over the store;
- ``readstate.post_cost``: posts per second (each one committed) to #general of the large
  workspace over posts per second to a 10-member channel of the same workspace.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from loadtest.phases import Context
from loadtest.phases.boot import probe
from loadtest.stats import ratio
from origin.service import conversations, messages
from origin.service import readstate as origin_reads
from origin.service.auth import authenticate
from origin.store.shards import Store


async def _rate(n: int, call: Any) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return n / max(time.perf_counter() - start, 1e-9)


async def run(ctx: Context) -> dict[str, Any]:
    ws = ctx.large
    label = "32000"
    ctx.say("readstate: hello bytes ...")
    got = await probe(ctx, ws)
    out: dict[str, Any] = {
        f"readstate.hello_bytes_{label}": got["thin_bytes"],
        f"readstate.hello_ratio_{label}": ratio(got["fat_bytes"], got["thin_bytes"]),
    }
    reps = 50 if ctx.plan.name == "quick" else 300
    token = ws.tokens[1]
    store = await Store.open(ctx.stack.cfg.database_urls)
    try:
        caller = await authenticate(store, token)
        async with httpx.AsyncClient(base_url=ctx.stack.edge_urls[0]) as http:
            headers = {"Authorization": f"Bearer {token}"}
            first = (await http.post("/api/client.counts", headers=headers)).json()
            assert first.get("ok"), first

            async def at_edge() -> None:
                (await http.post("/api/client.counts", headers=headers)).raise_for_status()

            ctx.say("readstate: client.counts at the edge vs the origin's grouped query ...")
            edge_qps = await _rate(reps, at_edge)

        async def at_origin() -> None:
            async with store.read(caller.team_id) as conn:
                await origin_reads.counts_for_user(conn, caller.team_id, caller.user_id)

        origin_qps = await _rate(max(5, reps // 5), at_origin)
        out |= {
            "readstate.counts_edge_qps": round(edge_qps, 1),
            "readstate.counts_origin_qps": round(origin_qps, 1),
            "readstate.counts_edge_over_origin": ratio(edge_qps, origin_qps),
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
