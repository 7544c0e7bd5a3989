"""Thin clients held in load-worker processes (``loadtest.load_rtm``), seen from a phase."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loadtest.clients import Workers, spread
from loadtest.phases import Context


class Listeners:
    """``tokens`` dealt out to the context's worker processes; each connects to the edges in
    turn. ``connect``, then ``wait_for`` marked frames and ``collect`` them, then ``close``."""

    def __init__(
        self,
        ctx: Context,
        edge_urls: list[str],
        tokens: list[str],
        *,
        ws_urls: list[str] | None = None,
        concurrency: int | None = 200,
        fresh_http: bool = False,
        resume_from: int | None = None,
        region: str | None = None,
    ) -> None:
        """With ``ws_urls`` (ticketed WebSocket URLs) the clients skip ``rtm.connect``; ``region``
        is passed to ``rtm.connect`` (for a router in ``edge_urls``)."""
        clients = ws_urls or tokens
        k = max(1, min(ctx.client_procs, len(clients)))
        common = {
            "edge_urls": edge_urls,
            "concurrency": concurrency and max(1, concurrency // k),
            "fresh_http": fresh_http,
            "resume_from": resume_from,
            "region": region,
        }
        key = "ws_urls" if ws_urls else "tokens"
        kwargs = [{**common, key: part} for part in spread(clients, k)]
        self.workers = Workers("rtm_clients", kwargs, ctx.client_cpus)
        self.ready = False

    async def connect(self, delay: float = 0.3) -> dict[str, Any]:
        """Every client at once (from ``delay`` seconds on, within each worker's concurrency)."""
        if not self.ready:
            await self.workers.recv("ready", 120)
            self.ready = True
        start = time.monotonic() + delay
        self.workers.send("connect", start)
        parts = await self.workers.recv("connected")
        hello_ms = [x for p in parts for x in p["hello_ms"]]
        return {
            "ok": sum(p["ok"] for p in parts),
            "failed": sum(p["failed"] for p in parts),
            "errors": [e for p in parts for e in p["errors"]][:5],
            "hello_ms": hello_ms,
            "all_connected_s": max(hello_ms, default=0.0) / 1000,
        }

    async def count(self) -> int:
        return sum(await self.workers.ask("count", "count"))

    async def wait_for(self, expected: int, limit_s: float) -> int:
        deadline = time.monotonic() + limit_s
        got = await self.count()
        while got < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            got = await self.count()
        return got

    async def collect(self) -> dict[str, Any]:
        parts = await self.workers.ask("collect", "collected")
        return {
            "records": [r for p in parts for r in p["records"]],
            "last": max(p["last"] for p in parts),
            "closed": [c for p in parts for c in p["closed"]],
        }

    async def close(self) -> None:
        try:
            if self.ready:
                await self.workers.ask("close", "done", limit_s=60)
        finally:
            self.workers.close()
