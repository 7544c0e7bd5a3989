"""Fanout: messages posted at the origin into a channel whose members hold thousands of
WebSocket sessions, split over both edges; latency from post to receipt at each member.

Two runs over the same connections: *paced* (a steady few messages per second: latency p50
and p99, the figure a user feels) and *burst* (several posters as fast as the origin takes
them: deliveries per second, the edges' fanout capacity). Each message text carries
``bench:<seq>:<send time>``; the send time is taken just before the HTTP post, so latency
includes the origin's commit, the relay, the log and the edge.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from loadtest import rawhttp
from loadtest.load_rtm import mark
from loadtest.phases import Context, difference
from loadtest.phases.listeners import Listeners
from loadtest.stats import percentile


class Poster:
    """Posts marked messages at the origin, one keep-alive connection per concurrent post."""

    def __init__(self, origin_url: str, token: str, channel: str) -> None:
        self.origin_url, self.token, self.channel = origin_url, token, channel
        self.idle: list[rawhttp.HttpConnection] = []
        self.failures = 0

    async def post(self, seq: int) -> None:
        conn = self.idle.pop() if self.idle else await rawhttp.connect(*rawhttp.host_port(self.origin_url))
        form = {"channel": self.channel, "text": f"fanout {mark(seq)}"}
        async with asyncio.timeout(60):
            status, body = await conn.send(rawhttp.request("POST", "/api/chat.postMessage", self.token, form))
        if status != 200 or not body.startswith(b'{"ok":true'):
            self.failures += 1
        self.idle.append(conn)

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


async def paced(poster: Poster, first: int, count: int, rate: float) -> None:
    start = time.monotonic()
    tasks = []
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(poster.post(first + i)))
    await asyncio.gather(*tasks)


async def burst(poster: Poster, first: int, count: int, posters: int) -> None:
    async def one(k: int) -> None:
        for seq in range(first + k, first + count, posters):
            await poster.post(seq)

    await asyncio.gather(*(one(k) for k in range(posters)))


async def run(ctx: Context) -> dict[str, Any]:
    plan, stack, ws = ctx.plan, ctx.stack, ctx.large
    n = plan.fanout_connections
    listeners = Listeners(ctx, stack.edge_urls, ws.client_tokens[:n])
    poster = Poster(stack.origin_url, ws.tokens[0], ws.general)
    try:
        ctx.say(f"fanout: connecting {n} members of #general over {len(stack.edge_urls)} edges ...")
        t0 = time.monotonic()
        got = await listeners.connect()
        connect_s = time.monotonic() - t0
        if got["failed"]:
            ctx.say(f"fanout: {got['failed']} connects failed: {got['errors']}")
        members = got["ok"]
        gc_before = await ctx.full_collections(stack.edge_urls)  # connected: serving starts
        ctx.say(
            f"fanout: {members} connected in {connect_s:.1f}s; paced: {plan.fanout_paced_messages} messages "
            f"at {plan.fanout_paced_rate:g}/s ..."
        )
        await paced(poster, 0, plan.fanout_paced_messages, plan.fanout_paced_rate)
        await listeners.wait_for(members * plan.fanout_paced_messages, 60)
        steady = await listeners.collect()
        latencies = [lat for _, lat in steady["records"]]
        ctx.say(
            f"fanout: burst: {plan.fanout_burst_messages} messages from {plan.fanout_posters} posters ..."
        )
        first_send = time.monotonic()
        await burst(poster, 100_000, plan.fanout_burst_messages, plan.fanout_posters)
        posted_s = time.monotonic() - first_send
        expected = members * plan.fanout_burst_messages
        await listeners.wait_for(expected, 120)
        rush = await listeners.collect()
        delivered = len(rush["records"])
        rush_s = max(1e-9, rush["last"] - first_send)
        closed = Counter(steady["closed"] + rush["closed"])
        gc_after = await ctx.full_collections(stack.edge_urls)
        return {
            "fanout.connections": members,
            "fanout.connect_failed": got["failed"],
            "fanout.connect_s": round(connect_s, 1),
            "fanout.p50_ms": round(percentile(latencies, 50), 1),
            "fanout.p99_ms": round(percentile(latencies, 99), 1),
            "fanout.paced_messages_per_s": plan.fanout_paced_rate,
            "fanout.paced_missing": members * plan.fanout_paced_messages - len(latencies),
            "fanout.deliveries_per_s": round(delivered / rush_s, 1),
            "fanout.burst_messages": plan.fanout_burst_messages,
            "fanout.burst_post_s": round(posted_s, 2),
            "fanout.burst_p99_ms": round(percentile([lat for _, lat in rush["records"]], 99), 1),
            "fanout.burst_missing": expected - delivered,
            "fanout.post_failures": poster.failures,
            "fanout.closed": dict(closed) if closed else 0,
            # Full GC collections in the edges' processes (summed) while delivering, paced and
            # burst, once every member is connected (goal 0).
            "gc.full_collections_fanout": difference(gc_before, gc_after),
        }
    finally:
        poster.close()
        await listeners.close()
