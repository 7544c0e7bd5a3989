"""The search index on disk: generations, and building one from the database.

Layout on disk (``--search-dir``)::

    CURRENT                       the generation that answers ("gen-<n>")
    gen-<n>/shard-<i>/            one tantivy index per database shard
    gen-<n>/offsets.json          per workspace, the last change-log offset applied
    gen-<n>/version               the index schema it was built with (`SCHEMA_VERSION`)

A generation is built beside the one answering (:func:`build`, ``flannel admin reindex``) and
published by switching ``CURRENT`` (:func:`publish`); :func:`fill_team` writes one workspace's
messages and shared files into it from its shard. :mod:`origin.search.indexer` keeps the
answering generation fresh from the change log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from origin.search.engine import Stored
from origin.search.tantivy_index import (
    SCHEMA_VERSION,
    FileDoc,
    MessageDoc,
    ShardIndex,
)
from origin.store.db import Database, Row
from origin.store.shards import Store

log = logging.getLogger("flannel.origin.search")

FILL_CHUNK: Final = 5000
FILE_SHARE: Final = "file_share"
ROW = (
    "m.channel_id, m.ts, m.team_id, m.user_id, m.text, m.extra_text, m.thread_ts, m.subtype, "
    "EXISTS (SELECT 1 FROM reactions r WHERE r.channel_id = m.channel_id AND r.ts = m.ts), "
    "m.blocks, m.attachments"
)
"""A message's columns as :func:`message_doc` reads them (``messages m``)."""
Key = tuple[str, int]


def _json_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return bytes(value).decode() if isinstance(value, (bytes, bytearray, memoryview)) else str(value)


def message_doc(row: Row, file_flag: bool) -> MessageDoc:
    text, extra = str(row[4] or ""), row[5]
    user_id = None if row[3] is None else str(row[3])
    thread_ts = None if row[6] is None else int(row[6])
    return MessageDoc(
        team_id=str(row[2]),
        channel_id=str(row[0]),
        ts=int(row[1]),
        user_id=user_id,
        text=text if not extra else f"{text}\n{extra}",
        thread=thread_ts is not None,
        reaction=bool(row[8]),
        file=file_flag or row[7] == FILE_SHARE,
        stored=Stored(user_id, text, thread_ts, _json_text(row[9]), _json_text(row[10])),
    )


async def outbox_offset(db: Database, team_id: str, *, published: bool = False) -> int:
    """The workspace's last outbox offset (of the published rows only, when asked)."""
    sql = "SELECT MAX(event_offset) FROM outbox WHERE team_id = ?"
    sql += " AND published = 1" if published else ""
    async with db.read() as conn:
        row = await conn.fetchone(sql, [team_id])
    return int(row[0]) if row and row[0] is not None else 0


class Generation:
    """One built index: a `ShardIndex` per shard and the offsets applied."""

    def __init__(self, path: Path, shards: int) -> None:
        self.path = path
        self.name = path.name
        self.shards = [ShardIndex(path / f"shard-{i}") for i in range(shards)]
        try:
            self.offsets: dict[str, int] = {
                str(k): int(v) for k, v in orjson.loads((path / "offsets.json").read_bytes()).items()
            }
        except FileNotFoundError:
            self.offsets = {}

    def save_offsets(self) -> None:
        tmp = self.path / "offsets.json.tmp"
        tmp.write_bytes(orjson.dumps(self.offsets))
        os.replace(tmp, self.path / "offsets.json")

    def commit(self, shards: Iterable[int]) -> None:
        """Blocking: commit those shards, then record the offsets."""
        for i in sorted(set(shards)):
            self.shards[i].commit()
        self.save_offsets()

    def close(self) -> None:
        for shard in self.shards:
            shard.close()

    def size_bytes(self) -> int:
        return sum(s.size_bytes() for s in self.shards)


def current(root: Path) -> Path | None:
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    path = root / name
    return path if name and path.is_dir() else None


def publish(root: Path, path: Path) -> None:
    tmp = root / "CURRENT.tmp"
    tmp.write_text(path.name)
    os.replace(tmp, root / "CURRENT")


def new_path(root: Path) -> Path:
    path = root / f"gen-{time.time_ns()}"
    path.mkdir(parents=True)
    (path / "version").write_text(str(SCHEMA_VERSION))
    return path


def schema_version(path: Path) -> int:
    """The schema a generation was built with (1: before the version was recorded)."""
    try:
        return int((path / "version").read_text().strip())
    except (FileNotFoundError, ValueError):
        return 1


def drop_old(root: Path, keep: Path) -> None:
    """Remove the generations other than `keep` (their readers are gone)."""
    for path in root.glob("gen-*"):
        if path != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


async def fill_team(gen: Generation, store: Store, team_id: str) -> tuple[int, int]:
    """Index every message of the workspace from its shard, and the files they share
    (after removing what was there), uncommitted; returns how many, and the outbox offset
    read before the rows: the offset the documents reflect once committed."""
    db = await store.shard_of(team_id)
    shard = gen.shards[store.shards.index(db)]
    offset = await outbox_offset(db, team_id)
    shard.delete_team(team_id)
    n = 0
    async with db.read() as conn:
        found = await conn.fetchall("SELECT id FROM conversations WHERE team_id = ? ORDER BY id", [team_id])
    channels = [str(r[0]) for r in found]
    for channel in channels:
        after = -(2**62)
        while True:
            async with db.read() as conn:
                rows = await conn.fetchall(
                    f"SELECT {ROW} FROM messages m WHERE m.channel_id = ? AND m.ts > ? ORDER BY m.ts LIMIT ?",
                    [channel, after, FILL_CHUNK],
                )
            shared = await _shared_files(db, channel, rows) if rows else {}
            for row in rows:
                files = shared.get(int(row[1]), [])
                doc = message_doc(row, bool(files))
                shard.put_message(doc, replace=False)  # the team was deleted above
                for f in files:
                    shard.put_file(FileDoc(team_id, channel, doc.ts, doc.user_id, f))
            n += len(rows)
            if len(rows) < FILL_CHUNK:
                break
            after = int(rows[-1][1])
            await asyncio.sleep(0)
    return n, offset


async def _shared_files(db: Database, channel: str, rows: list[Row]) -> dict[int, list[dict[str, Any]]]:
    """The files each of these messages (one channel, in ts order) shares, by ts: the full
    objects its ``message_extras`` keep (an upload's share, or an import), tombstones left
    out. What the live path reads from the ``message`` events."""
    async with db.read() as conn:
        found = await conn.fetchall(
            "SELECT ts, payload FROM message_extras WHERE channel_id = ? AND ts >= ? AND ts <= ?",
            [channel, int(rows[0][1]), int(rows[-1][1])],
        )
    out: dict[int, list[dict[str, Any]]] = {}
    for ts, payload in found:
        try:
            listed = orjson.loads(payload).get("files")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        files = [
            f
            for f in (listed if isinstance(listed, list) else [])
            if isinstance(f, dict) and f.get("id") and f.get("mode") != "tombstone"
        ]
        if files:
            out[int(ts)] = files
    return out


async def build(store: Store, root: str | os.PathLike[str]) -> tuple[Path, int]:
    """A new generation of every workspace from the database, then made current (online: the
    answering generation is untouched until the switch). Returns its path and the messages."""
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    gen = Generation(new_path(base), len(store.shards))
    n = 0
    try:
        for team_id in await store.team_ids():
            filled, gen.offsets[team_id] = await fill_team(gen, store, team_id)
            n += filled
        await asyncio.to_thread(gen.commit, range(len(gen.shards)))
    finally:
        gen.close()
    publish(base, gen.path)
    return gen.path, n
