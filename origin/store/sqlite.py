"""SQLite backend (aiosqlite): the embedded default.

SQLite allows one writer at a time, so writes go through one connection guarded by an
asyncio lock; reads use a small pool of WAL-mode connections and never block the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from origin.store.db import Params, Row


class SqliteConn:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cur = await self._conn.execute(sql, tuple(params))
        n = cur.rowcount
        await cur.close()
        return n

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        await self._conn.executemany(sql, [tuple(r) for r in rows])

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._conn.execute(sql, tuple(params)) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(params)) as cur:
            rows = await cur.fetchall()
        return [tuple(r) for r in rows]


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, url: str, path: str, readers: int = 4) -> None:
        self.url = url
        self.path = path
        self._readers_wanted = readers
        self._writer: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []

    async def open(self) -> SqliteDatabase:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        for _ in range(self._readers_wanted):
            conn = await self._connect()
            self._all_readers.append(conn)
            self._readers.put_nowait(conn)
        return self

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA foreign_keys=OFF")
        return conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConn]:
        assert self._writer is not None, "database not open"
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteConn(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            else:
                await self._writer.execute("COMMIT")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqliteConn]:
        conn = await self._readers.get()
        try:
            await conn.execute("BEGIN")
            try:
                yield SqliteConn(conn)
            finally:
                await conn.execute("ROLLBACK")
        finally:
            self._readers.put_nowait(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteConn]:
        conn = await self._readers.get()
        try:
            yield SqliteConn(conn)
        finally:
            self._readers.put_nowait(conn)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()

    def insert_ignore(self) -> str:
        return "INSERT OR IGNORE"

    def for_update(self) -> str:
        return ""
