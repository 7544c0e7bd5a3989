"""The thin database adapter both backends implement.

SQL in this project is written once, in a portable subset, with ``?`` placeholders.
Each backend translates placeholders and knows the few dialect differences
(``INSERT IGNORE``, locking reads), so repository code above it has one copy.
Nothing from a request is ever spliced into SQL text: values always travel as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = tuple[Any, ...]
Params = Sequence[Any]


class Conn(Protocol):
    """One connection, inside a transaction or a consistent read."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; return the number of affected rows."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class Database(Protocol):
    """A database (one shard): a pool of connections plus its dialect."""

    dialect: str  # "sqlite" or "mysql"
    url: str

    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """A read-write transaction, committed on success and rolled back on error."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Conn]:
        """A read-only transaction whose reads all see one consistent point in time."""
        ...

    def read(self) -> AbstractAsyncContextManager[Conn]:
        """A connection for independent reads (each statement sees committed data)."""
        ...

    async def close(self) -> None: ...

    # dialect helpers
    def insert_ignore(self) -> str:
        """``INSERT IGNORE`` / ``INSERT OR IGNORE``."""
        ...

    def for_update(self) -> str:
        """Suffix for a locking read (``FOR UPDATE`` on MySQL, empty on SQLite)."""
        ...
