"""Fanout: messages posted at the origin into a channel whose members hold thousands of
WebSocket sessions, split over both edges; latency from post to receipt at each member.

First one *warm-up* message, not counted in the paced figures: the first message after the
connects is the one that carries its poster's ``user_info`` to every connection, and the one the
notifier first builds the channel's audience for (a 32,000-member channel's people, read once);
its latency is reported as ``fanout.first_p50_ms`` / ``first_p99_ms``. The paced run starts once
the servers are idle again (``fanout.settle_s``: their CPU, children included, under 5% for
0.3 s). Then, over the same connections: *paced* (a steady few messages per second: latency p50
and p99, the figure a user feels), *burst* (several posters as fast as the origin takes
them: deliveries per second, the edges' fanout capacity) and *fast* (paced again, at
``fanout_fast_rate``: ``fanout.p99_ms_20`` at 20 messages/s). Then *large*: more members
(``fanout_large_connections``, 10,000 in the full plan) at ``fanout_large_rate`` (1.5/s: 15,000
deliveries/s), ``fanout.p99_ms_10000``. Each message text carries
``bench:<seq>:<send time>``; the send time is taken just before the HTTP post, so latency
includes the origin's commit, the relay, the log and the edge.

The edges' CPU time (both processes, from ``/proc``) over each run, divided by the deliveries,
is ``fanout.edge_cpu_us_per_delivery``: what one delivery costs an edge, everything included.

Then the floor, same run, same clients, same core: ``loadtest.bare_fanout``, a bare WebSocket
server with no Flannel logic that writes each message framed once to every transport, fed the
same marked messages at the same pace over a control connection (no origin in the way):
``fanout.bare_*``. ``fanout.over_limit`` is the edges' burst deliveries per second over the
bare server's, ``fanout.cpu_over_limit`` the bare server's CPU per delivery over the edges'.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

from loadtest import rawhttp, rawws
from loadtest.load_rtm import mark
from loadtest.phases import Context, difference
from loadtest.phases.listeners import Listeners
from loadtest.stack import Server, free_port
from loadtest.stats import percentile


def cpu_s(pids: list[int]) -> float | None:
    """User + system CPU seconds of ``pids`` so far (None when one is not readable here)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (the origin's notifier child, say), from ``/proc``."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return out


async def settle(pids: list[int], window_s: float = 0.3, busy: float = 0.05, limit_s: float = 15.0) -> float:
    """Until ``pids`` (and their children) use less than ``busy`` of a CPU over ``window_s``,
    at most ``limit_s``: the one-time work a first message sets off (the notifier reading a
    32,000-member channel's people) is over before latency is measured. Returns the wait."""
    start = time.monotonic()
    everyone = [p for pid in pids for p in family(pid)]
    before = cpu_s(everyone)
    while time.monotonic() - start < limit_s:
        await asyncio.sleep(window_s)
        now = cpu_s(everyone)
        if before is None or now is None or now - before < busy * window_s:
            break
        before = now
    return time.monotonic() - start


def per_delivery_us(before: float | None, after: float | None, deliveries: int) -> float | None:
    if before is None or after is None or not deliveries:
        return None
    return round((after - before) * 1e6 / deliveries, 1)


#: An idle keep-alive connection older than this is closed, not reused: the origin (uvicorn,
#: 5 s) may have closed it meanwhile, and a post on it would fail as "connection closed".
IDLE_S = 2.0


class Poster:
    """Posts marked messages at the origin, one keep-alive connection per concurrent post."""

    def __init__(self, origin_url: str, token: str, channel: str) -> None:
        self.origin_url, self.token, self.channel = origin_url, token, channel
        self.idle: list[tuple[float, rawhttp.HttpConnection]] = []  # (idle since, connection)
        self.failures = 0

    async def connection(self) -> rawhttp.HttpConnection:
        """The most recently used idle connection still fresh, else a new one. Paced posts
        reuse the newest; older ones, idle since a spike of concurrent posts, are let go."""
        now = time.monotonic()
        while self.idle:
            since, conn = self.idle.pop()
            if now - since < IDLE_S:
                return conn
            conn.close()
        return await rawhttp.connect(*rawhttp.host_port(self.origin_url))

    async def post(self, seq: int) -> None:
        conn = await self.connection()
        form = {"channel": self.channel, "text": f"fanout {mark(seq)}"}
        async with asyncio.timeout(60):
            status, body = await conn.send(rawhttp.request("POST", "/api/chat.postMessage", self.token, form))
        if status != 200 or not body.startswith(b'{"ok":true'):
            self.failures += 1
        self.idle.append((time.monotonic(), conn))

    def close(self) -> None:
        """Close the idle connections (the next post opens a new one)."""
        for _, conn in self.idle:
            conn.close()
        self.idle.clear()


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
    closed_listeners = False
    try:
        ctx.say(f"fanout: connecting {n} members of #general over {len(stack.edge_urls)} edges ...")
        t0 = time.monotonic()
        got = await listeners.connect()
        connect_s = time.monotonic() - t0
        if got["failed"]:
            ctx.say(f"fanout: {got['failed']} connects failed: {got['errors']}")
        members = got["ok"]
        pids = [e.pid for e in stack.edges if e.pid is not None]
        gc_before = await ctx.full_collections(stack.edge_urls)  # connected: serving starts
        ctx.say(f"fanout: {members} connected in {connect_s:.1f}s; one warm-up message ...")
        first, warm = await paced_run(poster, listeners, members, 90_000, 1, 1.0)
        servers = [s.proc.pid for s in stack.servers if s.proc is not None]
        settled_s = await settle(servers)
        ctx.say(f"fanout: paced: {plan.fanout_paced_messages} messages at {plan.fanout_paced_rate:g}/s ...")
        cpu_paced = cpu_s(pids)
        latencies, steady = await paced_run(
            poster, listeners, members, 0, plan.fanout_paced_messages, plan.fanout_paced_rate
        )
        cpu_burst = cpu_s(pids)
        ctx.say(
            f"fanout: burst: {plan.fanout_burst_messages} messages from {plan.fanout_posters} posters ..."
        )
        poster.close()  # idle while the paced run's last deliveries came in
        first_send = time.monotonic()
        await burst(poster, 100_000, plan.fanout_burst_messages, plan.fanout_posters)
        posted_s = time.monotonic() - first_send
        expected = members * plan.fanout_burst_messages
        await listeners.wait_for(expected, 120)
        rush = await listeners.collect()
        cpu_end = cpu_s(pids)
        delivered = len(rush["records"])
        rush_s = max(1e-9, rush["last"] - first_send)
        deliveries_per_s = round(delivered / rush_s, 1)
        edge_cpu_burst = per_delivery_us(cpu_burst, cpu_end, delivered)
        rate = plan.fanout_fast_rate
        ctx.say(f"fanout: fast: {plan.fanout_fast_messages} messages at {rate:g}/s ...")
        poster.close()
        fast, fast_got = await paced_run(poster, listeners, members, 200_000, plan.fanout_fast_messages, rate)
        closed = Counter(warm["closed"] + steady["closed"] + rush["closed"] + fast_got["closed"])
        gc_after = await ctx.full_collections(stack.edge_urls)
        closed_listeners = True
        await listeners.close()
        large = await large_run(ctx, poster)
        try:
            bare = await bare_run(ctx, n)
        except Exception as exc:  # the edges' figures stand without the floor
            bare = {"fanout.bare_error": f"{type(exc).__name__}: {exc}"[:300]}
        bare_per_s, bare_cpu = (
            bare.get("fanout.bare_deliveries_per_s"),
            bare.get("fanout.bare_cpu_us_per_delivery"),
        )
        return {
            "fanout.connections": members,
            "fanout.connect_failed": got["failed"],
            "fanout.connect_s": round(connect_s, 1),
            "fanout.first_p50_ms": round(percentile(first, 50), 1),
            "fanout.first_p99_ms": round(percentile(first, 99), 1),
            "fanout.settle_s": round(settled_s, 1),
            "fanout.p50_ms": round(percentile(latencies, 50), 1),
            "fanout.p99_ms": round(percentile(latencies, 99), 1),
            "fanout.paced_messages_per_s": plan.fanout_paced_rate,
            "fanout.paced_missing": members * plan.fanout_paced_messages - len(latencies),
            "fanout.deliveries_per_s": deliveries_per_s,
            "fanout.burst_messages": plan.fanout_burst_messages,
            "fanout.burst_post_s": round(posted_s, 2),
            "fanout.burst_p99_ms": round(percentile([lat for _, lat in rush["records"]], 99), 1),
            "fanout.burst_missing": expected - delivered,
            "fanout.post_failures": poster.failures,
            "fanout.closed": dict(closed) if closed else 0,
            "fanout.p50_ms_20": round(percentile(fast, 50), 1),
            "fanout.p99_ms_20": round(percentile(fast, 99), 1),
            "fanout.fast_messages_per_s": rate,
            "fanout.fast_deliveries_per_s": round(members * rate),
            "fanout.fast_missing": members * plan.fanout_fast_messages - len(fast),
            **large,
            "fanout.edge_cpu_us_per_delivery": per_delivery_us(cpu_paced, cpu_burst, len(latencies)),
            "fanout.edge_cpu_us_per_delivery_burst": edge_cpu_burst,
            **bare,
            "fanout.over_limit": round(deliveries_per_s / bare_per_s, 3) if bare_per_s else None,
            "fanout.cpu_over_limit": round(bare_cpu / edge_cpu_burst, 3)
            if bare_cpu and edge_cpu_burst
            else None,
            # Full GC collections in the edges' processes (summed) while delivering, paced and
            # burst, once every member is connected (goal 0).
            "gc.full_collections_fanout": difference(gc_before, gc_after),
        }
    finally:
        poster.close()
        if not closed_listeners:
            await listeners.close()


async def paced_run(
    poster: Poster, listeners: Listeners, members: int, first: int, count: int, rate: float
) -> tuple[list[float], dict[str, Any]]:
    """``count`` messages at ``rate`` per second to ``members`` connections: the latencies of
    what arrived (within 60 s of the last post), and the collected records."""
    await paced(poster, first, count, rate)
    await listeners.wait_for(members * count, 60)
    got = await listeners.collect()
    return [lat for _, lat in got["records"]], got


async def large_run(ctx: Context, poster: Poster) -> dict[str, Any]:
    """Paced fanout to ``fanout_large_connections`` members (``fanout.*_10000`` in the full plan)."""
    plan, stack = ctx.plan, ctx.stack
    n, rate, count = plan.fanout_large_connections, plan.fanout_large_rate, plan.fanout_large_messages
    listeners = Listeners(ctx, stack.edge_urls, ctx.large.client_tokens[:n])
    try:
        ctx.say(f"fanout: large: connecting {n} members ...")
        got = await listeners.connect()
        members = got["ok"]
        ctx.say(f"fanout: large: {members} connected; {count} messages at {rate:g}/s ...")
        poster.close()  # idle through the connects: the origin may have closed them
        await paced_run(poster, listeners, members, 390_000, 1, 1.0)  # warm-up, as above
        latencies, records = await paced_run(poster, listeners, members, 300_000, count, rate)
        return {
            f"fanout.connections_{n}": members,
            f"fanout.connect_failed_{n}": got["failed"],
            f"fanout.p50_ms_{n}": round(percentile(latencies, 50), 1),
            f"fanout.p99_ms_{n}": round(percentile(latencies, 99), 1),
            f"fanout.deliveries_per_s_{n}": round(members * rate),
            f"fanout.missing_{n}": members * count - len(latencies),
            f"fanout.closed_{n}": dict(Counter(records["closed"])) or 0,
        }
    finally:
        await listeners.close()


async def bare_run(ctx: Context, n: int) -> dict[str, Any]:
    """The same fanout on ``loadtest.bare_fanout`` (see the module's docstring)."""
    plan, cfg = ctx.plan, ctx.stack.cfg
    port = free_port()
    server = Server(
        "bare-fanout",
        ["-m", "loadtest.bare_fanout", "--port", str(port)],
        [port],
        cfg.log_dir,
        cfg.server_cpus,
    )
    await asyncio.to_thread(server.start)
    urls = [f"ws://127.0.0.1:{port}/rtm?i={i}" for i in range(n)]
    listeners = Listeners(ctx, [], [], ws_urls=urls)
    control: rawws.WsClient | None = None
    try:
        ctx.say(f"fanout: the same on a bare server (no Flannel logic): {n} connections ...")
        got = await listeners.connect()
        members = got["ok"]
        control = await rawws.connect(f"ws://127.0.0.1:{port}/control")
        pids = [server.pid]
        count, rate = plan.fanout_paced_messages, plan.fanout_paced_rate
        start = time.monotonic()
        cpu0 = cpu_s(pids)
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            control.send_text(f"{mark(i)}".encode())
        await listeners.wait_for(members * count, 60)
        steady = await listeners.collect()
        cpu1 = cpu_s(pids)
        latencies = [lat for _, lat in steady["records"]]
        burst = plan.fanout_burst_messages
        first_send = time.monotonic()
        for i in range(burst):
            control.send_text(f"{mark(100_000 + i)}".encode())
        await listeners.wait_for(members * burst, 120)
        rush = await listeners.collect()
        cpu2 = cpu_s(pids)
        delivered = len(rush["records"])
        return {
            "fanout.bare_connections": members,
            "fanout.bare_p50_ms": round(percentile(latencies, 50), 1),
            "fanout.bare_p99_ms": round(percentile(latencies, 99), 1),
            "fanout.bare_deliveries_per_s": round(delivered / max(1e-9, rush["last"] - first_send), 1),
            "fanout.bare_missing": members * (count + burst) - len(latencies) - delivered,
            "fanout.bare_cpu_us_per_delivery": per_delivery_us(cpu1, cpu2, delivered),
            "fanout.bare_cpu_us_per_delivery_paced": per_delivery_us(cpu0, cpu1, len(latencies)),
        }
    finally:
        if control is not None:
            control.close()
        await listeners.close()
        server.stop()
