"""Failover: the edge that SDK clients are connected to is killed (``kill -9``); how soon are
they all back, through the router, with exact replay?

Two fresh edges in a region of their own (:data:`REGION`) register with the router; N clients
of the storm workspace (the real :class:`client_sdk.FlannelClient`, in this process, on the
client CPUs) connect through the router in that region, where placement puts them (the load
floor keeps a small crowd on one edge; a large one spills to the second). Messages are
posted at the origin into ``#general`` before the kill and all through the failover. The edge
holding most clients is killed with SIGKILL: its clients see the connection vanish (no
close frame), name the lost edge on their next ``rtm.connect`` (``failed_edge``: the router
never sends them back, and three reports leave it out for everyone), and resume on the
survivor from their last offset.

Figures, over the killed edge's clients: ``failover.reconnect_p50_s`` / ``_p99_s`` /
``_max_s`` (the kill to the client's next hello), ``failover.back`` (how many reconnected
within the phase's limit), and exact replay over every client: ``failover.missing`` and
``failover.duplicates`` (messages missing from, or repeated in, what a client's application
got, summed) and ``failover.exact_clients`` (clients whose messages are exactly the posted
ones, in order). Needs processes the benchmark starts itself (it kills one): skipped with
``--embedded`` and against a given stack (``failover.note``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from client_sdk import FlannelClient, Hello, Message
from loadtest.phases import Context
from loadtest.stats import percentile

REGION = "failover"
KEYS = ("failover.clients", "failover.reconnect_p50_s", "failover.reconnect_p99_s", "failover.missing")
#: Clients at most (the quick plan: its 100 storm tokens).
MAX_CLIENTS = 500
BEFORE, DURING, DURING_GAP_S = 5, 30, 0.05  # messages posted before and through the failover
LIMIT_S = 30.0  # every client back and caught up within this, or the phase says who was not
PREFIX = "failover "


@dataclass
class Watched:
    """One SDK client and what its application saw: hello times and message texts."""

    client: FlannelClient
    hellos: list[float] = field(default_factory=list)  # monotonic
    texts: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    edge: str | None = None  # the edge it was on before the kill
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # shared: anyone saw something

    def start(self) -> None:
        async def listen() -> None:
            async for event in self.client.events():
                if isinstance(event, Hello):
                    self.hellos.append(time.monotonic())
                elif isinstance(event, Message) and event.text.startswith(PREFIX):
                    self.texts.append(event.text)
                self.changed.set()

        self.task = asyncio.create_task(listen())

    def caught_up(self, posted: list[str], killed_at: float, moved: bool) -> bool:
        back = not moved or any(h > killed_at for h in self.hellos)
        return back and len(self.texts) >= len(posted)


async def post(http: httpx.AsyncClient, url: str, token: str, channel: str, text: str) -> None:
    resp = await http.post(
        url + "/api/chat.postMessage",
        data={"channel": channel, "text": text},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = resp.json()
    if not body.get("ok"):
        raise RuntimeError(f"chat.postMessage: {resp.status_code} {body}")


async def run(ctx: Context) -> dict[str, Any]:
    stack = ctx.stack
    if stack.cfg.embedded or stack.external:
        return {
            **dict.fromkeys(KEYS),
            "failover.note": "skipped: it kills an edge process the benchmark started itself "
            "(not with --embedded, nor against a given stack)",
        }
    tokens = ctx.storm.client_tokens[:MAX_CLIENTS]
    edges = {e.edge_id: e for e in (stack.cold_edge(REGION), stack.cold_edge(REGION))}
    for edge in edges.values():
        await stack.wait_routable(edge)
    assert stack.router_url is not None
    # A transport of its own per client (as on separate devices: one shared pool of hundreds
    # of connections costs httpcore a scan of all of them per request, quadratic, all on the
    # benchmark's core), but one SSL context for all (httpx builds one per client otherwise,
    # ~10 ms of CPU apiece).
    tls = ssl.create_default_context()
    changed = asyncio.Event()
    watched = [
        Watched(
            FlannelClient(
                stack.router_url,
                t,
                REGION,
                connect_timeout=60.0,
                http_transport=httpx.AsyncHTTPTransport(verify=tls),
            ),
            changed=changed,
        )
        for t in tokens
    ]
    gate = asyncio.Semaphore(50)

    async def connect(w: Watched) -> None:
        async with gate:
            await w.client.connect()
        w.edge = w.client.edge_id
        w.start()

    ctx.say(f"failover: {len(watched)} SDK clients through the router onto two edges of region {REGION} ...")
    try:
        await asyncio.gather(*(connect(w) for w in watched))
        on = Counter(w.edge for w in watched)
        dead_id = on.most_common(1)[0][0]
        assert dead_id is not None
        dead = edges[dead_id]
        victims = [w for w in watched if w.edge == dead_id]
        posted: list[str] = []
        async with httpx.AsyncClient(timeout=30) as http:
            for i in range(BEFORE):
                posted.append(f"{PREFIX}before {i}")
                await post(http, stack.origin_url, ctx.storm.tokens[0], ctx.storm.general, posted[-1])
            await wait_all(watched, posted, 0.0, frozenset(), LIMIT_S)
            ctx.say(f"failover: kill -9 of {dead_id} ({len(victims)} clients on it; {dict(on)}) ...")
            assert dead.pid is not None
            killed_at = time.monotonic()
            os.kill(dead.pid, signal.SIGKILL)
            for i in range(DURING):  # posted all through the failover, straight at the origin
                posted.append(f"{PREFIX}during {i}")
                await post(http, stack.origin_url, ctx.storm.tokens[0], ctx.storm.general, posted[-1])
                await asyncio.sleep(DURING_GAP_S)
        moved = frozenset(id(w) for w in victims)
        caught = await wait_all(watched, posted, killed_at, moved, LIMIT_S)
        back = sorted(h - killed_at for w in victims for h in w.hellos[1:2] if h > killed_at)
        missing = sum(len(Counter(posted) - Counter(w.texts)) for w in watched)
        duplicates = sum(n - 1 for w in watched for n in Counter(w.texts).values() if n > 1)
        exact = sum(w.texts == posted for w in watched)
        still_on_dead = sum(w.client.edge_id == dead_id for w in victims)
        return {
            "failover.clients": len(watched),
            "failover.killed_edge_clients": len(victims),
            "failover.back": len(back),
            "failover.reconnect_p50_s": round(percentile(back, 50), 3) if back else None,
            "failover.reconnect_p99_s": round(percentile(back, 99), 3) if back else None,
            "failover.reconnect_max_s": round(back[-1], 3) if back else None,
            "failover.caught_up": caught,
            "failover.posted": len(posted),
            "failover.missing": missing,
            "failover.duplicates": duplicates,
            "failover.exact_clients": exact,
            "failover.back_on_dead_edge": still_on_dead,
        }
    finally:
        await asyncio.gather(*(close(w) for w in watched))


async def wait_all(
    watched: list[Watched], posted: list[str], killed_at: float, moved: frozenset[int], limit_s: float
) -> int:
    """Until every client is back (those in ``moved``) and has as many messages as were
    posted, or ``limit_s``; how many are."""
    deadline = time.monotonic() + limit_s

    def done(w: Watched) -> bool:
        return w.caught_up(posted, killed_at, id(w) in moved)

    changed = watched[0].changed if watched else asyncio.Event()
    while not all(done(w) for w in watched) and time.monotonic() < deadline:
        changed.clear()
        with contextlib.suppress(TimeoutError):  # a hello or a message, or time to look again
            await asyncio.wait_for(changed.wait(), 0.5)
    return sum(done(w) for w in watched)


async def close(w: Watched) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(w.client.close(), 10)
    if w.task is not None:
        w.task.cancel()
        with contextlib.suppress(BaseException):
            await w.task
