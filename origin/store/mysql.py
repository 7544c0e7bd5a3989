"""MariaDB/MySQL backend through an aiomysql pool."""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiomysql
import pymysql

from origin.store.db import Params, Row

# "Table/database already exists" notes from IF NOT EXISTS are expected, not news.
warnings.filterwarnings("ignore", category=pymysql.Warning)

_PLACEHOLDER = re.compile(r"\?")


def to_format(sql: str) -> str:
    """Translate ``?`` placeholders to the ``%s`` paramstyle (escaping literal ``%``)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class MysqlConn:
    def __init__(self, cur: Any) -> None:
        self._cur = cur

    async def execute(self, sql: str, params: Params = ()) -> int:
        n: int = await self._cur.execute(to_format(sql), tuple(params))
        return n

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            await self._cur.executemany(to_format(sql), [tuple(r) for r in rows])

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        await self._cur.execute(to_format(sql), tuple(params))
        row = await self._cur.fetchone()
        return tuple(row) if row is not None else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        await self._cur.execute(to_format(sql), tuple(params))
        return [tuple(r) for r in await self._cur.fetchall()]


class MysqlDatabase:
    dialect = "mysql"

    def __init__(self, url: str, params: dict[str, Any], pool_size: int = 10) -> None:
        self.url = url
        self._params = params
        self._pool_size = pool_size
        self._pool: Any = None

    async def open(self, create: bool = True) -> MysqlDatabase:
        if create:
            await create_database(self._params)
        self._pool = await aiomysql.create_pool(
            minsize=1,
            maxsize=self._pool_size,
            autocommit=True,
            charset="utf8mb4",
            **self._params,
        )
        return self

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MysqlConn]:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("BEGIN")
            try:
                yield MysqlConn(cur)
            except BaseException:
                await conn.rollback()
                raise
            else:
                await conn.commit()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MysqlConn]:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            try:
                yield MysqlConn(cur)
            finally:
                await conn.rollback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[MysqlConn]:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            yield MysqlConn(cur)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    def insert_ignore(self) -> str:
        return "INSERT IGNORE"

    def for_update(self) -> str:
        return " FOR UPDATE"


async def create_database(params: dict[str, Any]) -> None:
    """Create the database named in ``params`` if it does not exist yet."""
    server = {k: v for k, v in params.items() if k != "db"}
    conn = await aiomysql.connect(autocommit=True, **server)
    try:
        async with conn.cursor() as cur:
            name = params["db"].replace("`", "``")
            await cur.execute(
                f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()


async def drop_database(params: dict[str, Any]) -> None:
    server = {k: v for k, v in params.items() if k != "db"}
    conn = await aiomysql.connect(autocommit=True, **server)
    try:
        async with conn.cursor() as cur:
            name = params["db"].replace("`", "``")
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()
