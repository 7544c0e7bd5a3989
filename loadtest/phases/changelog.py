"""Change log: outbox + relay + log throughput and commit-to-reader latency.

Posts messages at the origin's store (outbox + relay + log, as in production), with a
reader following the workspace; measures events per second end to end and, per event, the
time from the commit returning to the reader receiving it.

It runs with 8 and with 32 concurrent writers, each time twice side by side: with group
commit (the writes queued behind the workspace's lock share one transaction, as in
production) and without it (one transaction per write, ``_ungrouped``, the path before
issue 14), each into a workspace of its own; the two alternate three times and each figure
is the median of its three runs (``changelog.events`` is the events of one run). With 8
writers a third run each time posts thread replies instead (to four threads, grouped:
``changelog.*_replies_8w``), which the batch reads and updates the thread parents of.

Then ``chat.update`` and ``chat.delete`` (three updates for each delete) with 8 writers, grouped,
side by side: decided as a batch (``changelog.edits_per_s_8w``, as in production) and each
edit alone inside the same group (``_unbatched``: the per-write path), alternating, medians.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from changelog import ChangeLog, LogReader, MemoryLog, RedisLog
from loadtest.stats import percentile
from origin.relay import Relay
from origin.service import conversations, message_batches, message_writes, messages, teams, users
from origin.service.auth import Caller, authenticate, issue_token
from origin.service.content import Content
from origin.service.teams import current_offset
from origin.store.group import MAX_GROUP
from origin.store.shards import Store
from wire.ids import parse_ts

WRITERS = (8, 32)
REPEATS = 3


async def workspace(store: Store, name: str = "Bench") -> tuple[str, list[Caller], str]:
    """A small workspace: three users in one channel."""
    team = await teams.create_workspace(store, name)
    callers = []
    for user_name in ("ann", "bob", "cy"):
        user = await users.create_user(store, team["id"], user_name)
        callers.append(await authenticate(store, await issue_token(store, team["id"], user["id"])))
    channel = await conversations.create(store, callers[0], "bench", False)
    for caller in callers[1:]:
        await conversations.join(store, caller, channel["id"])
    return team["id"], callers, channel["id"]


THREADS = 4
"""Thread roots the replies of a ``replies`` run go to."""


async def measure(
    store: Store, relay: Relay, reader: LogReader, events: int, writers: int, name: str, replies: bool = False
) -> dict[str, float]:
    """``events`` posts from ``writers`` concurrent writers into a new workspace (thread
    replies to ``THREADS`` roots with ``replies``)."""
    team_id, callers, channel = await workspace(store, name)
    roots: list[int | None] = [None]
    if replies:
        roots = [
            parse_ts((await messages.post(store, callers[0], channel, f"root {t}"))[0]["ts"])
            for t in range(THREADS)
        ]
    start = await current_offset(store, team_id)
    sub = await reader.subscribe(team_id, after=start)
    committed: dict[int, float] = {}
    latencies: list[float] = []
    offsets: list[int] = []

    async def writer(w: int) -> None:
        for i in range(w, events, writers):
            thread = roots[i % len(roots)]
            _, offset = await messages.post(store, callers[w % 3], channel, f"e{i}", thread)
            committed[offset] = time.perf_counter()

    async def follow() -> None:
        async for offset, _ in sub:
            now = time.perf_counter()
            while offset not in committed:  # the reader beat the writer's bookkeeping
                await asyncio.sleep(0)
                now = max(now, committed.get(offset, now))
            latencies.append(max(0.0, now - committed[offset]) * 1000)
            offsets.append(offset)
            if len(offsets) == events:
                return

    groups0, passes0, marks0 = store.group_commit.groups, relay.passes, relay.marks
    try:
        t0 = time.perf_counter()
        follower = asyncio.create_task(follow())
        await asyncio.gather(*(writer(w) for w in range(writers)))
        await asyncio.wait_for(follower, 120)
        elapsed = time.perf_counter() - t0
    finally:
        await sub.close()
    if offsets != list(range(start + 1, start + events + 1)):
        raise AssertionError("the reader did not see dense, increasing offsets")
    groups = store.group_commit.groups - groups0
    return {
        "events_per_s": round(events / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "writes_per_commit": round(events / max(1, groups), 1),
        "rows_per_relay_pass": round(events / max(1, relay.passes - passes0), 1),
        # The relay's durable "published" marks: one transaction per ``mark_every_s``, not per pass.
        "relay_passes_per_mark": round((relay.passes - passes0) / max(1, relay.marks - marks0), 1),
    }


class _EditsAlone(message_batches.Edits):
    """Every edit alone inside its group (the path before edits were batched)."""

    def batchable(self, item: message_writes.EditItem) -> bool:
        return False


async def measure_edits(store: Store, edits: int, writers: int, name: str, batched: bool) -> dict[str, float]:
    """``edits`` updates and deletes of messages posted beforehand, from ``writers`` writers."""
    team_id, callers, channel = await workspace(store, name)
    stamps = [
        parse_ts((await messages.post(store, callers[0], channel, f"m{i}"))[0]["ts"]) for i in range(edits)
    ]
    db = await store.shard_of(team_id)
    batcher = message_batches.EDITS if batched else _EditsAlone()
    groups0 = store.group_commit.groups

    async def writer(w: int) -> None:
        for i in range(w, edits, writers):
            kind = "delete" if i % 4 == 3 else "update"
            item = message_writes.EditItem(kind, callers[0], channel, stamps[i], f"edited {i}", Content())
            await store.group_commit.submit(db, team_id, batcher, item)

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - t0
    return {
        "edits_per_s": round(edits / elapsed, 1),
        "edits_per_commit": round(edits / max(1, store.group_commit.groups - groups0), 1),
    }


async def run(
    database_urls: list[str],
    redis_url: str | None,
    prefix: str,
    events: int,
    writers: tuple[int, ...] = WRITERS,
) -> dict[str, Any]:
    store = await Store.open(database_urls)
    log: ChangeLog = RedisLog(redis_url, prefix) if redis_url else MemoryLog()
    relay = Relay(store, log, poll_s=0.05)
    relay.start()
    reader = LogReader(log)  # type: ignore[arg-type]
    per_run = max(writers) * max(1, events // (REPEATS * max(writers)))
    out: dict[str, Any] = {"changelog.events": per_run, "changelog.runs": REPEATS}
    try:
        for n in writers:
            # Side by side, alternating (the path before, then group commit) ``REPEATS`` times,
            # each figure the median of its runs: a shared machine drifts within a phase.
            runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            replied: list[dict[str, float]] = []
            for r in range(REPEATS):
                for grouped in (False, True):
                    store.group_commit.max_group = MAX_GROUP if grouped else 1
                    name = f"Bench{n}{'g' if grouped else 'u'}{r}"
                    runs[grouped].append(await measure(store, relay, reader, per_run, n, name))
                if n == writers[0]:
                    store.group_commit.max_group = MAX_GROUP
                    name = f"Bench{n}r{r}"
                    replied.append(await measure(store, relay, reader, per_run, n, name, replies=True))
            if replied:
                for key in ("events_per_s", "p50_ms", "p99_ms", "writes_per_commit"):
                    out[f"changelog.{key}_replies_{n}w"] = statistics.median(m[key] for m in replied)
            for grouped, measured in runs.items():
                suffix = f"_{n}w" + ("" if grouped else "_ungrouped")
                for key in measured[0]:
                    out[f"changelog.{key}{suffix}"] = statistics.median(m[key] for m in measured)
            gain = out[f"changelog.events_per_s_{n}w"] / out[f"changelog.events_per_s_{n}w_ungrouped"]
            out[f"changelog.group_gain_{n}w"] = round(gain, 2)
        first = writers[0]
        store.group_commit.max_group = MAX_GROUP
        edited: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for r in range(REPEATS):
            for batched in (False, True):
                name = f"Edits{first}{'b' if batched else 'a'}{r}"
                edited[batched].append(await measure_edits(store, per_run // 2, first, name, batched))
        for batched, measured in edited.items():
            suffix = f"_{first}w" + ("" if batched else "_unbatched")
            for key in measured[0]:
                out[f"changelog.{key}{suffix}"] = statistics.median(m[key] for m in measured)
        for key in ("events_per_s", "p50_ms", "p99_ms"):  # the headline figures: 8 writers
            out[f"changelog.{key}"] = out[f"changelog.{key}_{first}w"]
        out["changelog.backend"] = ("mysql" if database_urls[0].startswith("mysql") else "sqlite") + (
            "+redis" if redis_url else "+memory"
        )
        return out
    finally:
        store.group_commit.max_group = MAX_GROUP
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
