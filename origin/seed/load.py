"""The I/O half of seeding: bulk inserts of generated rows.

One write transaction on the new workspace holds every row, so a seed either lands whole
or not at all; inside it, ``executemany`` batches (multi-row INSERTs on MySQL) keep a
32,000-user workspace to seconds where per-row service calls would take many minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from origin.models import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, USER_COLUMNS
from origin.seed.generate import Row, Workspace
from origin.store.db import Conn
from origin.store.shards import Store

BATCH = 1000


def _insert(table: str, columns: str) -> str:
    marks = ", ".join("?" * (columns.count(",") + 1))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"


USERS_SQL = _insert("users", f"{USER_COLUMNS}, email")
CONVERSATIONS_SQL = _insert("conversations", f"{CONVERSATION_COLUMNS}, last_ts")
MEMBERS_SQL = _insert("members", "channel_id, user_id, team_id, last_read, joined")
MESSAGES_SQL = _insert("messages", f"{MESSAGE_COLUMNS}, parent_user_id")
REACTIONS_SQL = _insert("reactions", "channel_id, ts, name, user_id, added")


async def insert_rows(conn: Conn, sql: str, rows: Sequence[Row], batch: int = BATCH) -> None:
    for i in range(0, len(rows), batch):
        await conn.executemany(sql, rows[i : i + batch])


def _in_key_order(rows: Sequence[Row], key: int) -> list[Row]:
    return sorted(rows, key=lambda row: row[:key])


async def load(store: Store, ws: Workspace, progress: Callable[[str], None]) -> None:
    """Insert ``ws``. No outbox rows and no ``event_seq`` bump: this is an import into a
    workspace no edge has loaded yet, which edges will read from the snapshot at offset 0."""
    tables = (  # (label, sql, rows, primary key length: rows start with their key)
        ("users", USERS_SQL, ws.users, 1),
        ("conversations", CONVERSATIONS_SQL, ws.conversation_rows(), 1),
        ("memberships", MEMBERS_SQL, ws.members, 2),
        ("messages", MESSAGES_SQL, ws.messages, 2),
        ("reactions", REACTIONS_SQL, ws.reactions, 4),
    )
    async with store.write(ws.team_id) as tx:
        for label, sql, rows, key in tables:
            started = time.perf_counter()
            # In key order, InnoDB and SQLite append to the primary-key B-tree instead of
            # splitting pages all over it: about twice as fast for the memberships.
            await insert_rows(tx.conn, sql, _in_key_order(rows, key))
            progress(f"seed: inserted {len(rows)} {label} in {time.perf_counter() - started:.2f}s")
        started = time.perf_counter()
    progress(f"seed: committed in {time.perf_counter() - started:.2f}s")
