"""Benchmark phase: ``search.messages`` at scale, through the origin's search service.

Seeds one workspace with the project's generator (`origin.seed.seed_workspace`: bulk
inserts in one transaction; 1M messages take about a minute and 650 MB on MariaDB, the
full-text index kept up to date by the database as for any write), then runs a fixed mix
of queries one at a time, as members of the workspace, and reports latency percentiles
overall and per kind of query.

The seeded vocabulary is small (167 words, drawn uniformly), so every word is in several
percent of all messages: the worst case for a full-text index, which does work for each
match. Real workspaces search for rarer words; the per-kind figures show the difference
(``rare`` searches the numbers in seeded links, which occur a handful of times each).

Both engines answer the same queries, by the same callers, in the same run: the tantivy
index (built from the database by `origin.search.generations.build`, as ``flannel admin reindex``
does, then kept by a live indexer following the change log) and the previous engine, the
database's own full-text index (MariaDB FULLTEXT or SQLite FTS5). Each engine runs the whole
query set as its own block, after a warm-up of its own: interleaved, the previous engine's
scans of the table would evict from the buffer pool what the other one reads, and a query's
time would depend on its neighbour. Their totals must be identical, query by query, wherever
both are exact (the phase fails otherwise). Then messages are posted one by one and the time
until each is searchable is measured (``search.index_lag_p99_ms``).

Reusing a corpus: with ``FLANNEL_BENCH_SEARCH_DB`` set to a database URL, the phase seeds
there once (and keeps it, with what it needs to search it in a file beside, under the
system's temporary directory) instead of in the run's throwaway database; a later run with
the same size and seed finds it and skips the seeding. The freshness probes add
``lag_posts`` messages to it each run.

Keys: ``search.p50_ms``/``p99_ms`` (tantivy, end to end through the service: scope, wait for
the indexer's offset, query, rendering), ``search.previous_p50_ms``/``previous_p99_ms`` (the
database engine), ``search.over_previous`` (previous p99 / tantivy p99), ``search.index_msgs_per_s``
(bulk build), ``search.index_bytes_per_million`` (the index on disk, per million messages),
``search.index_lag_p99_ms`` (post -> searchable, live).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from changelog import MemoryLog
from loadtest.stats import percentile
from origin.relay import Relay
from origin.search import INNODB_STOPWORDS
from origin.search.engine import register, unregister
from origin.search.generations import build, outbox_offset
from origin.search.indexer import Indexer
from origin.seed import seed_workspace
from origin.seed.names import WORDS
from origin.service import messages as posting
from origin.service import search
from origin.service.auth import Caller, authenticate
from origin.store.shards import Store

KINDS: tuple[tuple[str, int], ...] = (
    ("word", 20),
    ("two_words", 20),
    ("phrase", 10),
    ("rare", 5),
    ("word_in_channel", 10),
    ("word_from_user", 10),
    ("word_dates", 10),
    ("filters", 15),
)
"""Kinds of query and their weights in the mix."""
_CONTENT = [w for w in WORDS if len(w) >= 3 and w.lower() not in INNODB_STOPWORDS]
_WORD = re.compile(r"[A-Za-z]+")


def sizes(messages: int) -> tuple[int, int]:
    """Users and channels for a workspace of ``messages`` messages."""
    return max(20, min(2000, messages // 500)), max(10, min(200, messages // 5000))


class QueryMaker:
    """Realistic queries: words and phrases from the seeded texts, names from the workspace."""

    def __init__(self, rng: random.Random, texts: list[str], channels: list[str], users: list[str]) -> None:
        self.rng, self.texts, self.channels, self.users = rng, texts, channels, users
        self.numbers: list[str] = [n for t in texts for n in re.findall(r"-(\d{3,4})\b", t)] or ["4821"]
        self.today = datetime.now(UTC).date()

    def word(self) -> str:
        return self.rng.choice(_CONTENT)

    def day(self, back: int) -> str:
        return (self.today - timedelta(days=self.rng.randrange(1, back))).isoformat()

    def make(self, kind: str) -> str:
        r = self.rng
        if kind == "word":
            return self.word()
        if kind == "two_words":
            return f"{self.word()} {self.word()}"
        if kind == "phrase":
            words = _WORD.findall(r.choice(self.texts))
            i = r.randrange(max(1, len(words) - 1))
            return '"' + " ".join(words[i : i + 2]) + '"'
        if kind == "rare":
            return r.choice(self.numbers)
        if kind == "word_in_channel":
            return f"{self.word()} in:#{r.choice(self.channels)}"
        if kind == "word_from_user":
            return f"{self.word()} from:@{r.choice(self.users)}"
        if kind == "word_dates":
            return r.choice((f"{self.word()} on:{self.day(90)}", f"{self.word()} after:{self.day(30)}"))
        return r.choice(
            (
                f"in:#{r.choice(self.channels)}",
                f"from:@{r.choice(self.users)}",
                f"has:link in:#{r.choice(self.channels)}",
                f"is:thread after:{self.day(30)}",
                "has:reaction",
                f"-{self.word()} from:@{r.choice(self.users)}",
            )
        )


async def _samples(store: Store, team_id: str, channel_ids: list[str]) -> tuple[list[str], list[str]]:
    """Some recent texts of the big channels, and some user names."""
    texts: list[str] = []
    async with store.read(team_id) as conn:
        for cid in channel_ids:
            rows = await conn.fetchall(
                "SELECT text FROM messages WHERE channel_id = ? ORDER BY ts DESC LIMIT 40", [cid]
            )
            texts += [str(r[0]) for r in rows]
        names = await conn.fetchall(
            "SELECT name FROM users WHERE team_id = ? ORDER BY id LIMIT 50", [team_id]
        )
    return texts or ["deploy the build"], [str(r[0]) for r in names]


CORPUS_ENV = "FLANNEL_BENCH_SEARCH_DB"


def _corpus_file(url: str, messages: int, seed: int) -> Path:
    name = re.sub(r"[^A-Za-z0-9]+", "_", url.rsplit("/", 1)[-1])
    return Path(tempfile.gettempdir()) / f"flannel-search-corpus-{name}-{messages}-{seed}.json"


async def _corpus(
    store: Store, url: str | None, messages: int, seed: int, say: Callable[[str], None]
) -> tuple[dict[str, Any], bool]:
    """The seeded workspace's info, and whether it was reused (see the module docstring)."""
    sidecar = _corpus_file(url, messages, seed) if url else None
    if sidecar is not None and sidecar.exists():
        info: dict[str, Any] = orjson.loads(sidecar.read_bytes())
        async with store.read(info["team_id"]) as conn:
            row = await conn.fetchone("SELECT COUNT(*) FROM messages WHERE team_id = ?", [info["team_id"]])
        if row is not None and int(row[0]) >= messages:
            say(f"search: reusing the corpus in {url} ({int(row[0])} messages)")
            return info, True
    users, channels = sizes(messages)
    info = await seed_workspace(
        store, users=users, channels=channels, messages=messages, seed=seed, progress=say
    )
    if sidecar is not None:
        sidecar.write_bytes(orjson.dumps(info))
    return info, False


async def run(
    database_urls: list[str],
    messages: int,
    queries: int,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    lag_posts: int = 200,
) -> dict[str, Any]:
    say = progress or (lambda _line: None)
    kept = os.environ.get(CORPUS_ENV) or None
    store = await Store.open([kept] if kept else database_urls)
    root = tempfile.mkdtemp(prefix="flannel-bench-search-")
    log = MemoryLog()
    relay = Relay(store, log, poll_s=0.05)
    indexer = Indexer(store, log, root, poll_s=0.2)
    try:
        started = time.perf_counter()
        info, reused = await _corpus(store, kept, messages, seed, say)
        seeded = time.perf_counter() - started
        if not reused:
            say(f"search: seeded {messages} messages in {seeded:.1f}s")
        started = time.perf_counter()
        path, indexed = await build(store, root)
        build_s = time.perf_counter() - started
        index_bytes = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        say(f"search: indexed {indexed} messages in {build_s:.1f}s ({index_bytes / 1e6:.1f} MB)")
        relay.start()
        await indexer.start()
        callers: list[Caller] = [await authenticate(store, t["token"]) for t in info["tokens"]]
        big = list(info["channel_ids"].values())
        texts, names = await _samples(store, info["team_id"], big)
        maker = QueryMaker(random.Random(f"search-bench/{seed}"), texts, list(info["channel_ids"]), names)
        rng = random.Random(f"search-bench/kinds/{seed}")
        kinds = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS], k=queries)

        async def on(engine: str, caller: Caller, q: str) -> tuple[float, search.Found]:
            if engine == "tantivy":
                register(store.shards, indexer)
            else:
                unregister(indexer)
            t0 = time.perf_counter()
            found = await search.search_messages(store, caller, q)
            return (time.perf_counter() - t0) * 1000, found

        plan = [
            (kind, maker.make(kind), callers[0] if i % 2 == 0 else rng.choice(callers))
            for i, kind in enumerate(kinds)
        ]
        warm = [(kind, maker.make(kind)) for kind, _ in KINDS[:3]]
        timings: dict[str, dict[str, list[float]]] = {"tantivy": {}, "database": {}}
        found: dict[str, list[search.Found]] = {"tantivy": [], "database": []}
        for engine in ("tantivy", "database"):  # each its own block (see the module docstring)
            for _kind, q in warm:  # warm the pool and caches, unmeasured
                await on(engine, callers[0], q)
            for i, (kind, q, caller) in enumerate(plan):
                ms, answer = await on(engine, caller, q)
                timings[engine].setdefault(kind, []).append(ms)
                found[engine].append(answer)
                if (i + 1) % 50 == 0:
                    say(f"search: {engine}: {i + 1}/{queries} queries")
        hits = compared = 0
        mismatches: list[str] = []
        for (_kind, q, _caller), new_found, old_found in zip(
            plan, found["tantivy"], found["database"], strict=True
        ):
            hits += bool(new_found.total)
            if old_found.exact and new_found.exact:
                compared += 1
                if old_found.total != new_found.total:
                    mismatches.append(f"{q!r}: {new_found.total} vs {old_found.total}")
        register(store.shards, indexer)
        lag = await _index_lag(store, indexer, callers[0], big[0], lag_posts)
        new = [t for ts in timings["tantivy"].values() for t in ts]
        old = [t for ts in timings["database"].values() for t in ts]
        p99, previous_p99 = percentile(new, 99), percentile(old, 99)
        result = {
            "search.messages": messages,
            "search.queries": len(new),
            "search.engine": "tantivy",
            "search.p50_ms": round(percentile(new, 50), 1),
            "search.p99_ms": round(p99, 1),
            "search.p50_ms_by_kind": _by_kind(timings["tantivy"]),
            "search.previous_engine": f"database ({store.shards[0].dialect})",
            "search.previous_p50_ms": round(percentile(old, 50), 1),
            "search.previous_p99_ms": round(previous_p99, 1),
            "search.previous_p50_ms_by_kind": _by_kind(timings["database"]),
            "search.over_previous": round(previous_p99 / p99, 1) if p99 else None,
            "search.totals_compared": compared,
            "search.totals_identical": not mismatches,
            "search.queries_with_hits": hits,
            "search.index_msgs_per_s": round(indexed / build_s) if build_s else None,
            "search.index_bytes_per_million": round(index_bytes * 1_000_000 / max(1, indexed)),
            "search.index_lag_p50_ms": round(percentile(lag, 50), 1),
            "search.index_lag_p99_ms": round(percentile(lag, 99), 1),
            "search.seed_s": round(seeded, 1),
            "search.corpus_reused": reused,
            "search.blocks": "tantivy, then database (each after its own warm-up)",
            "search.backend": store.shards[0].dialect,
        }
        assert not mismatches, f"engines disagree on totals: {mismatches[:5]} ({result})"
        return result
    finally:
        await indexer.stop()
        await relay.stop()
        await store.close()
        shutil.rmtree(root, ignore_errors=True)


def _by_kind(timings: dict[str, list[float]]) -> dict[str, float]:
    return {k: round(percentile(v, 50), 1) for k, v in sorted(timings.items())}


async def _index_lag(store: Store, indexer: Indexer, caller: Caller, channel: str, posts: int) -> list[float]:
    """Post -> searchable (the indexer has applied the post's offset), for ``posts`` posts made
    about 50 a second while a watcher looks every millisecond."""
    db = await store.shard_of(caller.team_id)
    pending: dict[int, float] = {}
    lags: list[float] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set() or pending:
            applied = indexer.applied(caller.team_id)
            now = time.perf_counter()
            for offset in [o for o in pending if o <= applied]:
                lags.append((now - pending.pop(offset)) * 1000)
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    for i in range(posts):
        await posting.post(store, caller, channel, f"freshness probe {i} ocelot{i}")
        committed = time.perf_counter()
        pending[await outbox_offset(db, caller.team_id)] = committed
        await asyncio.sleep(0.02)
    done.set()
    await asyncio.wait_for(watcher, 30)
    return lags
