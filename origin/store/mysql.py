"""MariaDB/MySQL backend through an aiomysql pool."""

from __future__ import annotations

import re
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiomysql
import pymysql
from pymysql.constants import SERVER_STATUS

from origin.store.db import Params, Row

# "Table/database already exists" notes from IF NOT EXISTS are expected, not news.
warnings.filterwarnings("ignore", category=pymysql.Warning)

_PLACEHOLDER = re.compile(r"\?")
#: ``INSERT [IGNORE] INTO t (cols) VALUES (?, ..., ?)``: what the bulk path writes itself.
_INSERT_VALUES = re.compile(
    r"\s*(INSERT\s+(?:IGNORE\s+)?INTO\s+[`\w]+\s*\([^()?]*\)\s*VALUES)\s*\(\s*\?(?:\s*,\s*\?)*\s*\)\s*",
    re.IGNORECASE,
)
#: The longest statement the bulk path sends, in characters (4 bytes each at worst), until
#: the server's ``max_allowed_packet`` is known.
STATEMENT_CHARS = 1_000_000


class _NotPlain(Exception):
    """A value the bulk path leaves to the driver's own escaping (bytes, floats, dates...)."""


def _quote(v: str) -> str:
    """``v`` as a quoted string literal: the same value pymysql's escaping stores. Inside
    ``'...'`` only the backslash and the quote need an escape (NUL gets one too, as the C
    client does); a ``str.replace`` that finds nothing is a fast scan, where ``translate``
    with a table of 1-to-2 mappings goes character by character."""
    if "\\" in v:
        v = v.replace("\\", "\\\\")
    if "'" in v:
        v = v.replace("'", "\\'")
    if "\0" in v:
        v = v.replace("\0", "\\0")
    return "'" + v + "'"


def _row_literal(row: Params) -> str:
    """One row as ``(v, ...)`` SQL literals (str, int, bool, None: the values pymysql's
    escaping would store)."""
    out = []
    for v in row:
        t = type(v)
        if t is str:
            out.append(_quote(v))  # type: ignore[arg-type]
        elif t is int:
            out.append(str(v))
        elif v is None:
            out.append("NULL")
        elif t is bool:
            out.append("1" if v else "0")
        else:
            raise _NotPlain
    return "(" + ",".join(out) + ")"


def insert_statements(sql: str, rows: Sequence[Params], limit: int = STATEMENT_CHARS) -> list[str] | None:
    """``rows`` inserted by ``sql`` (``INSERT ... VALUES (?, ...)``) as multi-row INSERT
    statements of at most about ``limit`` characters each; None when ``sql`` is not of that
    shape or a value is not a str/int/bool/None (the driver's path then does it)."""
    m = _INSERT_VALUES.fullmatch(sql)
    if m is None:
        return None
    prefix = m.group(1) + " "
    width = sql.count("?")
    statements: list[str] = []
    part: list[str] = []
    size = len(prefix)
    try:
        for row in rows:
            if len(row) != width:
                return None
            literal = _row_literal(row)
            if part and size + len(literal) + 1 > limit:
                statements.append(prefix + ",".join(part))
                part, size = [], len(prefix)
            part.append(literal)
            size += len(literal) + 1
    except _NotPlain:
        return None
    if part:
        statements.append(prefix + ",".join(part))
    return statements


def to_format(sql: str) -> str:
    """Translate ``?`` placeholders to the ``%s`` paramstyle (escaping literal ``%``)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class MysqlConn:
    def __init__(self, cur: Any, statement_chars: int = STATEMENT_CHARS) -> None:
        self._cur = cur
        self._statement_chars = statement_chars

    async def execute(self, sql: str, params: Params = ()) -> int:
        n: int = await self._cur.execute(to_format(sql), tuple(params))
        return n

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Many rows: a plain ``INSERT ... VALUES (?, ...)`` of str/int/None values is sent as
        few multi-row statements built here (one ``str.translate`` per string, as pymysql
        escapes it, instead of the driver's per-value Python escaping); anything else goes
        through the driver's ``executemany``."""
        if not rows:
            return
        no_backslash = self._cur.connection.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
        statements = None if no_backslash else insert_statements(sql, rows, self._statement_chars)
        if statements is None:
            await self._cur.executemany(to_format(sql), [tuple(r) for r in rows])
            return
        for statement in statements:
            await self._cur.execute(statement)

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
        self._statement_chars = STATEMENT_CHARS

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
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT @@max_allowed_packet")
            (packet,) = await cur.fetchone()
        # a statement's characters take up to 4 bytes each; leave room for the packet header
        self._statement_chars = max(64_000, min(4_000_000, int(packet) // 4 - 4096))
        return self

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MysqlConn]:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("BEGIN")
            try:
                yield MysqlConn(cur, self._statement_chars)
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
                yield MysqlConn(cur, self._statement_chars)
            finally:
                await conn.rollback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[MysqlConn]:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            yield MysqlConn(cur, self._statement_chars)

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
