"""Load-worker jobs over HTTP: a query load (closed loop or paced) and the boot probe.

An *op* is one logical query as a client sees it: a list of raw requests sent in turn on one
keep-alive connection (at the edge one ``users.info`` batch is one request; at the origin
the same batch is one ``users.info`` per id). Throughput is counted in ops, latency per op.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson

from loadtest import rawhttp, rawws
from loadtest.clients import Link

OK = b'{"ok":true'


async def http_load(
    link: Link,
    url: str,
    ops: list[list[bytes]],
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    rate: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``concurrency`` virtual clients for ``warmup + duration`` seconds from the parent's
    ``go``. Closed loop when ``rate`` is None, else paced at ``rate`` ops/s in all (latency
    counted from each op's scheduled start, so a stall is not hidden by waiting)."""
    host, port = rawhttp.host_port(url)
    conns = [await rawhttp.connect(host, port) for _ in range(concurrency)]
    link.send("ready")
    _, start_at = await link.recv()
    measure_from = start_at + warmup
    end = measure_from + duration
    latencies: list[float] = []
    counts = {"requests": 0, "errors": 0}
    rng = random.Random(seed)

    async def client(i: int) -> None:
        conn = conns[i]
        k = rng.randrange(len(ops))
        interval = concurrency / rate if rate else 0.0
        next_at = start_at + rng.random() * interval
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        while True:
            if rate:
                if next_at >= end:
                    return
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                t0, next_at = next_at, next_at + interval
            else:
                t0 = time.monotonic()
                if t0 >= end:
                    return
            ok = True
            for raw in ops[k % len(ops)]:
                status, body = await conn.send(raw)
                counts["requests"] += 1
                ok = ok and status == 200 and body.startswith(OK)
            k += 1
            done = time.monotonic()
            if not ok:
                counts["errors"] += 1
            elif t0 >= measure_from and done <= end:
                latencies.append((done - t0) * 1000)

    try:
        async with asyncio.timeout(max(0.0, end - time.monotonic()) + 60):  # a stuck server ends the run
            await asyncio.gather(*(client(i) for i in range(concurrency)))
    except TimeoutError:
        counts["errors"] += 1
    for conn in conns:
        conn.close()
    return {"ops": len(latencies), "latencies_ms": latencies, "duration": duration, **counts}


async def boot_probe(
    link: Link, origin_url: str, edge_url: str, token: str, fat_reps: int, thin_reps: int
) -> dict[str, Any]:
    """Boot one user ``thin_reps`` times through the edge and ``fat_reps`` times with
    ``rtm.start``, each from nothing (new connections) to usable (payload parsed)."""
    link.send("ready")
    await link.recv()
    async with asyncio.timeout(600):
        thin = [await thin_boot(edge_url, token) for _ in range(thin_reps + 1)]  # first: maybe cold
        fat = [await fat_boot(origin_url, token) for _ in range(fat_reps)]
    return {
        "thin_cold_ms": thin[0][0],
        "thin_ms": [t for t, _ in thin[1:]],
        "thin_bytes": thin[-1][1],
        "fat_ms": [t for t, _ in fat],
        "fat_bytes": fat[-1][1],
    }


async def thin_boot(edge_url: str, token: str) -> tuple[float, int]:
    """rtm.connect at the edge, WebSocket, hello: (ms, bytes downloaded)."""
    t0 = time.monotonic()
    status, body = await rawhttp.fetch(edge_url, rawhttp.request("POST", "/api/rtm.connect", token))
    answer = orjson.loads(body)
    if status != 200 or not answer.get("ok"):
        raise RuntimeError(f"rtm.connect failed: {body[:300]!r}")
    ws = await rawws.connect(answer["url"])
    hello = await ws.first
    if orjson.loads(hello).get("type") != "hello":
        raise RuntimeError(f"expected a hello, got {hello[:300]!r}")
    elapsed = (time.monotonic() - t0) * 1000
    ws.close()
    return elapsed, len(body) + len(hello)


async def fat_boot(origin_url: str, token: str) -> tuple[float, int]:
    """rtm.start at the origin, payload parsed: (ms, bytes downloaded)."""
    t0 = time.monotonic()
    status, body = await rawhttp.fetch(origin_url, rawhttp.request("POST", "/api/rtm.start", token))
    answer = orjson.loads(body)
    if status != 200 or not answer.get("ok"):
        raise RuntimeError(f"rtm.start failed: {body[:300]!r}")
    return (time.monotonic() - t0) * 1000, len(body)
