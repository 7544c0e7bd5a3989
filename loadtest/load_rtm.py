"""Load-worker job: many thin clients (``rtm.connect`` at an edge, WebSocket, hello) that then
listen, timing every frame that carries a benchmark mark.

A mark is ``bench:<seq>:<monotonic send time>`` inside a message text or a profile field; the
poster writes it, so a receiver computes post-to-receipt latency without asking anyone.
Steps, driven by the parent: ``ready`` -> (``connect`` at a start time) -> ``connected`` ->
any number of ``count`` / ``collect`` -> ``close``.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import orjson

from loadtest import rawhttp, rawws
from loadtest.clients import Link

MARK = re.compile(rb"bench:(\d+):(\d+\.\d+)")
CONNECT_TIMEOUT_S = 120.0  # rtm.connect + upgrade + hello; a stuck edge fails clients, not the run


class HttpPool:
    """A few keep-alive connections to one edge, shared by many connecting clients."""

    def __init__(self, url: str, size: int) -> None:
        self.host, self.port = rawhttp.host_port(url)
        self.idle: asyncio.Queue[rawhttp.HttpConnection | None] = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(None)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        conn = await self.idle.get()
        try:
            if conn is None or conn.closed:
                conn = await rawhttp.connect(self.host, self.port)
            return await conn.send(raw)
        except Exception:
            if conn is not None:
                conn.close()
            conn = None
            raise
        finally:
            self.idle.put_nowait(conn)


def mark(seq: int) -> str:
    return f"bench:{seq}:{time.monotonic():.6f}"


async def rtm_clients(
    link: Link,
    edge_urls: list[str],
    tokens: list[str] | None = None,
    ws_urls: list[str] | None = None,
    concurrency: int | None = 200,
    fresh_http: bool = False,
    resume_from: int | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Client i calls ``rtm.connect`` at ``edge_urls[i % len]`` (an edge, or the router, which
    places the client in ``region``) with ``tokens[i]``, or, given
    ``ws_urls`` (tickets signed as the router would), opens ``ws_urls[i]`` directly.
    ``concurrency`` None means all at once, each ``rtm.connect`` on a new HTTP connection
    when ``fresh_http`` (a storm)."""
    records: list[tuple[int, float]] = []
    last = [0.0]

    def on_text(data: bytes) -> None:
        found = MARK.search(data)
        if found:
            now = time.monotonic()
            records.append((int(found[1]), (now - float(found[2])) * 1000))
            last[0] = now

    pools = {url: HttpPool(url, 16) for url in edge_urls}
    clients: list[rawws.WsClient] = []
    count = len(ws_urls or tokens or [])
    gate = asyncio.Semaphore(concurrency or count or 1)
    form = {"resume_from": str(resume_from)} if resume_from is not None else {}
    if region is not None:
        form["region"] = region

    async def rtm_connect(i: int, token: str) -> str:
        url = edge_urls[i % len(edge_urls)]
        raw = rawhttp.request("POST", "/api/rtm.connect", token, form or None)
        status, body = await (rawhttp.fetch(url, raw) if fresh_http else pools[url].send(raw))
        answer = orjson.loads(body)
        if status != 200 or not answer.get("ok"):
            raise RuntimeError(f"rtm.connect: {status} {body[:200]!r}")
        return str(answer["url"])

    async def connect(i: int) -> float:
        async with gate, asyncio.timeout(CONNECT_TIMEOUT_S):
            url = ws_urls[i] if ws_urls else await rtm_connect(i, (tokens or [])[i])
            ws = await rawws.connect(url, on_text)
            clients.append(ws)
            hello = await ws.first
        if not hello.startswith(b'{"type":"hello"'):
            raise RuntimeError(f"expected a hello: {hello[:200]!r}")
        return time.monotonic()

    link.send("ready")
    kind, start_at = await link.recv()
    if kind == "close":
        return {"clients": 0}
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    results = await asyncio.gather(*(connect(i) for i in range(count)), return_exceptions=True)
    hellos = [r for r in results if isinstance(r, float)]
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    link.send(
        "connected",
        {
            "ok": len(hellos),
            "failed": len(errors),
            "errors": errors[:5],
            "hello_ms": [(h - start_at) * 1000 for h in hellos],
        },
    )
    while True:
        kind, _ = await link.recv()
        if kind == "count":
            link.send("count", len(records))
        elif kind == "collect":
            closed = [c.closed.result() for c in clients if c.closed.done()]
            link.send("collected", {"records": list(records), "last": last[0], "closed": closed})
            records.clear()
        elif kind == "close":
            for client in clients:
                client.close()
            await asyncio.sleep(0.2)
            return {"clients": len(clients)}
