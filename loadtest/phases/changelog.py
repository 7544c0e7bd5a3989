"""Change log: outbox + relay + log throughput and commit-to-reader latency.

Posts messages at the origin's store (outbox + relay + log, as in production), with a
reader following the workspace; measures events per second end to end and, per event, the
time from the commit returning to the reader receiving it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from changelog import ChangeLog, LogReader, MemoryLog, RedisLog
from loadtest.stats import percentile
from origin.relay import Relay
from origin.service import conversations, messages, teams, users
from origin.service.auth import Caller, authenticate, issue_token
from origin.service.teams import current_offset
from origin.store.shards import Store


async def workspace(store: Store) -> tuple[str, list[Caller], str]:
    """A small workspace: three users in one channel."""
    team = await teams.create_workspace(store, "Bench")
    callers = []
    for name in ("ann", "bob", "cy"):
        user = await users.create_user(store, team["id"], name)
        callers.append(await authenticate(store, await issue_token(store, team["id"], user["id"])))
    channel = await conversations.create(store, callers[0], "bench", False)
    for caller in callers[1:]:
        await conversations.join(store, caller, channel["id"])
    return team["id"], callers, channel["id"]


async def run(
    database_urls: list[str], redis_url: str | None, prefix: str, events: int, writers: int = 8
) -> dict[str, Any]:
    store = await Store.open(database_urls)
    log: ChangeLog = RedisLog(redis_url, prefix) if redis_url else MemoryLog()
    relay = Relay(store, log, poll_s=0.05)
    relay.start()
    reader = LogReader(log)  # type: ignore[arg-type]
    try:
        team_id, callers, channel = await workspace(store)
        start = await current_offset(store, team_id)
        sub = await reader.subscribe(team_id, after=start)
        committed: dict[int, float] = {}
        latencies: list[float] = []

        async def writer(w: int) -> None:
            for i in range(w, events, writers):
                _, offset = await messages.post(store, callers[w % 3], channel, f"e{i}")
                committed[offset] = time.perf_counter()

        async def follow() -> None:
            got = 0
            async for offset, _ in sub:
                now = time.perf_counter()
                while offset not in committed:  # the reader beat the writer's bookkeeping
                    await asyncio.sleep(0)
                    now = max(now, committed.get(offset, now))
                latencies.append(max(0.0, now - committed[offset]) * 1000)
                got += 1
                if got == events:
                    return

        t0 = time.perf_counter()
        follower = asyncio.create_task(follow())
        await asyncio.gather(*(writer(w) for w in range(writers)))
        await asyncio.wait_for(follower, 120)
        elapsed = time.perf_counter() - t0
        await sub.close()
        return {
            "changelog.events": events,
            "changelog.events_per_s": round(events / elapsed, 1),
            "changelog.p50_ms": round(percentile(latencies, 50), 2),
            "changelog.p99_ms": round(percentile(latencies, 99), 2),
            "changelog.backend": ("mysql" if database_urls[0].startswith("mysql") else "sqlite")
            + ("+redis" if redis_url else "+memory"),
        }
    finally:
        await reader.close()
        await stop_relay(relay)
        await log.close()
        await store.close()


async def stop_relay(relay: Relay, attempts: int = 30) -> None:
    """``Relay.stop`` until it holds. On MariaDB a cancellation that lands mid-query comes back
    from aiomysql as ``InterfaceError`` ("Cancelled during execution"), which the relay's
    retry loop treats as a failed round and survives; cancelling again stops it."""
    for _ in range(attempts):
        try:
            async with asyncio.timeout(1.0):
                await relay.stop()
            return
        except TimeoutError:
            continue
