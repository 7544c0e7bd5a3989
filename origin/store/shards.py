"""The shard directory and the store facade.

Each workspace lives on one shard (a database). A directory table on the first shard maps
workspace -> shard: a lookup, not hash-mod, so a workspace can be moved by copying its rows
and updating one directory row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson

from origin.store.db import Conn, Database
from origin.store.group import GroupCommit
from origin.store.migrations import migrate
from origin.store.urls import open_database
from wire.errors import SlackError
from wire.events import Event
from wire.ids import now_us


class WriteTx:
    """A write transaction on one workspace: the workspace row is locked first, so writes
    to a workspace are serialised and its event offsets commit in order. Rows read inside it
    need no locks of their own: no other writer of the workspace can run meanwhile.

    Writes queued behind the lock share one transaction (group commit, see
    :mod:`origin.store.group`): each gets its own ``WriteTx`` on the shared connection, and
    its events go to the outbox, all in one insert, when the group commits."""

    def __init__(self, conn: Conn, db: Database, team_id: str, seq: int) -> None:
        self.conn = conn
        self.db = db
        self.team_id = team_id
        self.seq = seq
        self.events: list[Event] = []
        self.outbox_rows: list[tuple[str, int, str, str, int]] = []

    async def emit(self, event: Event) -> int:
        """Write ``event`` to the outbox in this transaction; return its offset."""
        self.seq += 1
        event["offset"] = self.seq
        event.setdefault("team", self.team_id)
        event.setdefault("event_ts", f"{now_us() / 1_000_000:.6f}")
        payload = orjson.dumps(event).decode()
        self.outbox_rows.append((self.team_id, self.seq, str(event["type"]), payload, now_us()))
        self.events.append(event)
        return self.seq


class Store:
    """All shards, and the directory that says which one holds a workspace."""

    def __init__(self, shards: list[Database]) -> None:
        if not shards:
            raise ValueError("at least one database is required")
        self.shards = shards
        self._directory: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.on_commit: list[asyncio.Event] = []
        self.group_commit = GroupCommit(self.on_commit)

    @classmethod
    async def open(cls, urls: list[str], pool_size: int = 10) -> Store:
        shards = [await open_database(u, pool_size=pool_size) for u in urls]
        for db in shards:
            await migrate(db)
        return cls(shards)

    async def close(self) -> None:
        for db in self.shards:
            await db.close()

    @property
    def directory(self) -> Database:
        return self.shards[0]

    async def shard_of(self, team_id: str) -> Database:
        index = self._directory.get(team_id)
        if index is None:
            async with self.directory.read() as conn:
                row = await conn.fetchone("SELECT shard FROM shard_directory WHERE team_id = ?", [team_id])
            if row is None or int(row[0]) >= len(self.shards):
                raise SlackError("team_not_found")
            index = int(row[0])
            self._directory[team_id] = index
        return self.shards[index]

    async def assign_shard(self, team_id: str) -> Database:
        """Place a new workspace on the shard that holds the fewest."""
        async with self._lock, self.directory.transaction() as conn:
            rows = await conn.fetchall("SELECT shard, COUNT(*) FROM shard_directory GROUP BY shard")
            counts = dict.fromkeys(range(len(self.shards)), 0)
            for shard, n in rows:
                if int(shard) in counts:
                    counts[int(shard)] = int(n)
            index = min(counts, key=lambda s: (counts[s], s))
            await conn.execute("INSERT INTO shard_directory (team_id, shard) VALUES (?, ?)", [team_id, index])
        self._directory[team_id] = index
        return self.shards[index]

    async def team_ids(self) -> list[str]:
        async with self.directory.read() as conn:
            rows = await conn.fetchall("SELECT team_id FROM shard_directory ORDER BY team_id")
        return [str(r[0]) for r in rows]

    @asynccontextmanager
    async def write(self, team_id: str) -> AsyncIterator[WriteTx]:
        db = await self.shard_of(team_id)
        async with self.group_commit.write(db, team_id) as tx:
            yield tx

    @asynccontextmanager
    async def read(self, team_id: str) -> AsyncIterator[Conn]:
        db = await self.shard_of(team_id)
        async with db.read() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self, team_id: str) -> AsyncIterator[Conn]:
        db = await self.shard_of(team_id)
        async with db.snapshot() as conn:
            yield conn
