"""Importing a Slack export into a workspace, in ONE write transaction: it lands whole or not
at all (a cancelled or failed import leaves nothing behind), and running it again is safe.

Rows are written in batches (``executemany``), and each new item's change-log event is
emitted in the same transaction (``team_join``, ``channel_created``, ``member_joined_channel``,
``message``, ``reaction_added``), so the outbox, the edges and the read state see every item;
search sees the messages because its index is kept by the database in the same transaction
(FTS5 triggers on SQLite, InnoDB FULLTEXT on MariaDB: :mod:`origin.search`). A message already
present (same conversation and ts) is skipped, which makes a second import change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from origin.models import MESSAGE_COLUMNS, message_from_row
from origin.service import teams
from origin.store.shards import Store, WriteTx
from origin.transfer.archive import Archive, Limits
from origin.transfer.directory import Target, import_conversations, import_users
from origin.transfer.plan import IdMap, Row, to_row
from origin.transfer.report import Report
from origin.transfer.source import ConvSpec, day_messages, read_source
from wire.ids import ts_str

JSON = dict[str, Any]
Progress = Callable[[int, int], None]
MESSAGES_SQL = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}, parent_user_id, blocks, attachments, metadata, extra_text) "
    "VALUES (" + ", ".join("?" * 17) + ")"
)
REACTIONS_SQL = "INSERT INTO reactions (channel_id, ts, name, user_id, added) VALUES (?, ?, ?, ?, ?)"
EXTRAS_SQL = "INSERT INTO message_extras (channel_id, ts, team_id, payload) VALUES (?, ?, ?, ?)"


class Cancelled(Exception):
    """The job was cancelled: the transaction rolls back, nothing of the import stays."""


async def import_export(
    store: Store,
    path: Path,
    team_id: str | None = None,
    *,
    team_name: str | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[str, Report]:
    """Import the export at ``path`` into ``team_id`` (or a new workspace ``team_name``);
    returns (workspace id, report). An unreadable archive raises ArchiveError before any write."""
    report = Report()
    with Archive(path, limits) as archive:
        source = read_source(archive, report)
        if team_id is None:
            team_id = (await teams.create_workspace(store, team_name or "Imported"))["id"]
        total = source.day_count
        done = 0
        async with store.write(team_id) as tx:
            ids = IdMap()
            await import_users(tx, source.users, ids, report)
            targets = await import_conversations(tx, source.conversations, ids, report)
            for spec, target in targets:
                writer = _ConvWriter(tx, target, ids, report)
                await writer.load_existing()
                for day in spec.days:
                    if cancelled is not None and cancelled():
                        raise Cancelled()
                    await writer.write(day, list(day_messages(archive, day, report)))
                    done += 1
                    if progress is not None:
                        progress(done, total)
                await writer.finish()
            _skip_unlisted(source.conversations, targets, report)
    return team_id, report


def _skip_unlisted(convs: list[ConvSpec], targets: list[tuple[ConvSpec, Target]], report: Report) -> None:
    written = {id(spec) for spec, _ in targets}
    for spec in convs:
        if id(spec) not in written and spec.days:
            report.skip("day_file", "conversation_skipped", spec.folder)


class _ConvWriter:
    """One conversation's messages, day file by day file."""

    def __init__(self, tx: WriteTx, target: Target, ids: IdMap, report: Report) -> None:
        self.tx, self.target, self.ids, self.report = tx, target, ids, report
        self.present: set[int] = set()
        self.authors: dict[int, str | None] = {}
        self.threads: set[int] = set()
        self.last_ts = 0

    async def load_existing(self) -> None:
        if not self.target.is_new:
            rows = await self.tx.conn.fetchall(
                "SELECT ts, user_id FROM messages WHERE channel_id = ?", [self.target.id]
            )
            self.present = {int(r[0]) for r in rows}
            self.authors = {int(r[0]): r[1] for r in rows}

    async def write(self, day: str, messages: list[JSON]) -> None:
        rows: list[Row] = []
        for i, message in enumerate(messages):
            row = to_row(message, self.ids)
            if isinstance(row, str):
                self.report.skip("message", row, f"{day}[{i}] ts={message.get('ts')}")
                continue
            if row.ts in self.present:
                self.report.skip("message", "already_present", f"{self.target.id}/{ts_str(row.ts)}")
                continue
            self.present.add(row.ts)
            self.authors[row.ts] = row.user
            rows.append(row)
        await self._insert(rows)

    async def _insert(self, rows: list[Row]) -> None:
        if not rows:
            return
        tx, conv = self.tx, self.target.id
        values = []
        for r in rows:
            reply = r.thread_ts is not None and r.thread_ts != r.ts
            parent_user = self.authors.get(r.thread_ts) if reply and r.thread_ts is not None else None
            if reply and r.thread_ts is not None:
                self.threads.add(r.thread_ts)
            values.append(
                (
                    conv,
                    r.ts,
                    tx.team_id,
                    r.user,
                    r.text,
                    r.subtype,
                    r.thread_ts,
                    0,
                    None,
                    None,
                    r.edited_ts,
                    r.edited_user,
                    parent_user,
                    r.blocks,
                    r.attachments,
                    r.metadata,
                    r.extra_text,
                )
            )
            self.last_ts = max(self.last_ts, r.ts)
        await tx.conn.executemany(MESSAGES_SQL, values)
        reactions = [
            (conv, r.ts, name, user, r.ts + n) for r in rows for n, (name, user) in enumerate(r.reactions)
        ]
        if reactions:
            await tx.conn.executemany(REACTIONS_SQL, reactions)
        extras = [(conv, r.ts, tx.team_id, r.extras) for r in rows if r.extras]
        if extras:
            await tx.conn.executemany(EXTRAS_SQL, extras)
        for r, row in zip(rows, values, strict=True):
            await self._emit(r, row)
        self.report.add("message", len(rows))
        self.report.add("reaction", len(reactions))

    async def _emit(self, r: Row, row: tuple[Any, ...]) -> None:
        by_name: dict[str, list[str]] = {}
        for name, user in r.reactions:
            by_name.setdefault(name, []).append(user)
        message = message_from_row(
            row, [{"name": n, "users": u, "count": len(u)} for n, u in by_name.items()]
        )
        event: JSON = {"type": "message", "channel_type": self.target.channel_type, **message}
        event["channel"] = self.target.id
        if r.extras:
            event.update({k: v for k, v in orjson.loads(r.extras).items() if k not in event})
        await self.tx.emit(event)
        for name, user in r.reactions:
            await self.tx.emit(
                {
                    "type": "reaction_added",
                    "user": user,
                    "reaction": name,
                    "item_user": r.user,
                    "item": {"type": "message", "channel": self.target.id, "ts": ts_str(r.ts)},
                    "channel_type": self.target.channel_type,
                }
            )

    async def finish(self) -> None:
        """Threads get their reply fields from the replies stored; the channel its last ts."""
        conn, conv = self.tx.conn, self.target.id
        for thread_ts in sorted(self.threads):
            rows = await conn.fetchall(
                "SELECT user_id, ts FROM messages WHERE channel_id = ? AND thread_ts = ? AND ts <> ? "
                "ORDER BY ts",
                [conv, thread_ts, thread_ts],
            )
            users = list(dict.fromkeys(str(r[0]) for r in rows if r[0] is not None))
            await conn.execute(
                "UPDATE messages SET thread_ts = ts, reply_count = ?, reply_users = ?, latest_reply = ? "
                "WHERE channel_id = ? AND ts = ?",
                [len(rows), orjson.dumps(users).decode(), rows[-1][1] if rows else None, conv, thread_ts],
            )
        if self.last_ts:
            await conn.execute(
                "UPDATE conversations SET last_ts = ? WHERE id = ? AND last_ts < ?",
                [self.last_ts, conv, self.last_ts],
            )
