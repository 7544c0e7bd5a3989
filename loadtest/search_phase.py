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
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from loadtest.stats import percentile
from origin.search import INNODB_STOPWORDS
from origin.seed import seed_workspace
from origin.seed.names import WORDS
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


async def run(
    database_urls: list[str],
    messages: int,
    queries: int,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    say = progress or (lambda _line: None)
    store = await Store.open(database_urls)
    try:
        users, channels = sizes(messages)
        started = time.perf_counter()
        info = await seed_workspace(
            store, users=users, channels=channels, messages=messages, seed=seed, progress=say
        )
        seeded = time.perf_counter() - started
        say(f"search: seeded {messages} messages in {seeded:.1f}s")
        callers: list[Caller] = [await authenticate(store, t["token"]) for t in info["tokens"]]
        big = list(info["channel_ids"].values())
        texts, names = await _samples(store, info["team_id"], big)
        maker = QueryMaker(random.Random(f"search-bench/{seed}"), texts, list(info["channel_ids"]), names)
        rng = random.Random(f"search-bench/kinds/{seed}")
        kinds = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS], k=queries)
        for kind, _ in KINDS[:3]:  # warm the pool and caches, unmeasured
            await search.search_messages(store, callers[0], maker.make(kind))
        timings: dict[str, list[float]] = {}
        hits = 0
        for i, kind in enumerate(kinds):
            q = maker.make(kind)
            caller = callers[0] if i % 2 == 0 else rng.choice(callers)
            t0 = time.perf_counter()
            found = await search.search_messages(store, caller, q)
            timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
            hits += bool(found.total)
            if (i + 1) % 50 == 0:
                say(f"search: {i + 1}/{queries} queries")
        every = [t for ts in timings.values() for t in ts]
        return {
            "search.messages": messages,
            "search.queries": len(every),
            "search.p50_ms": round(percentile(every, 50), 1),
            "search.p99_ms": round(percentile(every, 99), 1),
            "search.p50_ms_by_kind": {k: round(percentile(v, 50), 1) for k, v in sorted(timings.items())},
            "search.queries_with_hits": hits,
            "search.seed_s": round(seeded, 1),
            "search.backend": store.shards[0].dialect,
        }
    finally:
        await store.close()
