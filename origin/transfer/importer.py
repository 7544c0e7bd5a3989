"""Importing a Slack export into a workspace, in batches: the users, conversations and
memberships in one write transaction, then each conversation's messages in transactions of
about :data:`BATCH` messages (multi-row inserts; each new item's change-log event emitted in
the same transaction: ``team_join``, ``channel_created``, ``member_joined_channel``,
``message`` (with its reactions), ``channel_marked``), so the outbox, the edges and the read
state see every item, and no transaction holds the workspace's write lock for long (other
writes to the workspace interleave with an import) nor grows with the export. Search sees the
messages through those events (the tantivy indexer re-reads the rows they name), or, on the
database engine, through the shard's own full-text index (:mod:`origin.search`).

It is idempotent and safely restartable: a message already present (same conversation and ts)
is skipped, so a second import changes nothing, and an import stopped half-way (cancelled, or
its worker died) is completed by running it again. Threads get their reply fields computed
before their parent is written (a first, light pass over the conversation's day files), so
no per-thread query runs for a new conversation. Imported memberships start read: their
``last_read`` is the conversation's newest imported message (an import is history, not news).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from origin.files.storage import BlobStore
from origin.models import MESSAGE_COLUMNS, message_from_row
from origin.service import teams
from origin.store.shards import Store
from origin.transfer.archive import Archive, Limits
from origin.transfer.directory import CHUNK, Target, import_conversations, import_users
from origin.transfer.plan import IdMap, Row, kept_ts, to_row
from origin.transfer.report import Report
from origin.transfer.source import ConvSpec, day_messages, read_source
from origin.transfer.uploads import (
    FILES_SQL,
    SHARES_SQL,
    Uploads,
    file_id_for,
    file_row,
    message_files,
    point_here,
    quota_used,
)
from wire.ids import parse_ts, ts_str

JSON = dict[str, Any]
Progress = Callable[[int, int], None]
#: Messages per write transaction.
BATCH = 5000
MESSAGES_SQL = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}, parent_user_id, blocks, attachments, metadata, extra_text) "
    "VALUES (" + ", ".join("?" * 17) + ")"
)
REACTIONS_SQL = "INSERT INTO reactions (channel_id, ts, name, user_id, added) VALUES (?, ?, ?, ?, ?)"
EXTRAS_SQL = "INSERT INTO message_extras (channel_id, ts, team_id, payload) VALUES (?, ?, ?, ?)"


class Cancelled(Exception):
    """The job was cancelled: it stops at the next day file; what is committed stays (running
    the import again completes it)."""


async def import_export(
    store: Store,
    path: Path,
    team_id: str | None = None,
    *,
    team_name: str | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    batch: int = BATCH,
    report: Report | None = None,
    blobs: BlobStore | None = None,
    max_file_bytes: int | None = None,
    quota_bytes: int | None = None,
    public_url: str = "",
) -> tuple[str, Report]:
    """Import the export at ``path`` into ``team_id`` (or a new workspace ``team_name``);
    returns (workspace id, report: ``report`` when given, filled as the import goes). An
    unreadable archive raises ArchiveError before any write. With ``blobs``, the files whose
    bytes the export carries (``__uploads/``) are stored there, each at most ``max_file_bytes``
    (default: the archive's per-entry limit) and all together within the workspace's
    ``quota_bytes`` (None: none), and become files of the workspace: their objects in the
    messages link to them here (``public_url``: the base of ``url_private``, as the file
    service's)."""
    report = report if report is not None else Report()
    with Archive(path, limits) as archive:
        source = read_source(archive, report)
        uploads = None
        if blobs is not None:
            uploads = Uploads(archive, blobs, report, max_file_bytes or archive.limits.max_entry_bytes)
        else:
            for name in archive.names:
                if name.startswith("__uploads/"):
                    report.skip("upload", "no_file_store", name)
        if team_id is None:
            team_id = (await teams.create_workspace(store, team_name or "Imported"))["id"]
        if uploads and quota_bytes is not None:
            async with store.read(team_id) as conn:
                uploads.quota_left = quota_bytes - await quota_used(conn, team_id)
        total = source.day_count
        done = 0
        ids = IdMap()
        if cancelled is not None and cancelled():
            raise Cancelled()  # before any write: nothing of it exists
        async with store.write(team_id) as tx:
            await import_users(tx, source.users, ids, report)
            targets = await import_conversations(tx, source.conversations, ids, report)
        for spec, target in targets:
            writer = _ConvWriter(store, team_id, target, ids, report, batch, uploads or None, public_url)
            await writer.load_existing()
            if target.is_new:
                writer.plan_threads(archive, spec.days)
            await writer.mark_read(newest(archive, spec.days, ids))
            try:
                for day in spec.days:
                    if cancelled is not None and cancelled():
                        await writer.flush()
                        raise Cancelled()
                    await writer.write(day, list(day_messages(archive, day, report)))
                    done += 1
                    if progress is not None:
                        progress(done, total)
                await writer.finish()
            finally:
                writer.abandon()
        _skip_unlisted(source.conversations, targets, report)
        if uploads is not None:
            uploads.finish()
    return team_id, report


def _skip_unlisted(convs: list[ConvSpec], targets: list[tuple[ConvSpec, Target]], report: Report) -> None:
    written = {id(spec) for spec, _ in targets}
    for spec in convs:
        if id(spec) not in written and spec.days:
            report.skip("day_file", "conversation_skipped", spec.folder)


@dataclass
class _Batch:
    values: list[tuple[Any, ...]]
    reactions: list[tuple[Any, ...]]
    extras: list[tuple[Any, ...]]
    events: list[JSON]
    files: list[tuple[Any, ...]] = field(default_factory=list)
    shares: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class _Thread:
    """A thread's reply fields, as its parent row stores them."""

    count: int = 0
    users: list[str] = field(default_factory=list)
    latest: int = 0

    def add(self, ts: int, user: str | None) -> None:
        self.count += 1
        if user is not None and user not in self.users:
            self.users.append(user)
        self.latest = max(self.latest, ts)


class _ConvWriter:
    """One conversation's messages, day file by day file, committed every ``batch`` rows."""

    def __init__(
        self,
        store: Store,
        team_id: str,
        target: Target,
        ids: IdMap,
        report: Report,
        batch: int,
        uploads: Uploads | None = None,
        public_url: str = "",
    ) -> None:
        self.store, self.team_id, self.target, self.ids, self.report = store, team_id, target, ids, report
        self.batch = batch
        self.uploads = uploads
        self.public_url = public_url
        self.files: list[tuple[Any, ...]] = []  # pending files rows (bytes stored) and shares
        self.shares: list[tuple[Any, ...]] = []
        self.present: set[int] = set()
        self.authors: dict[int, str | None] = {}
        self.planned: dict[int, _Thread] = {}  # thread ts -> its replies (new conversations)
        self.touched: set[int] = set()  # threads whose parent needs its fields recomputed
        self.pending: list[Row] = []
        self.inflight: asyncio.Task[None] | None = None
        self.last_ts = 0

    async def load_existing(self) -> None:
        if not self.target.is_new:
            async with self.store.read(self.team_id) as conn:
                rows = await conn.fetchall(
                    "SELECT ts, user_id FROM messages WHERE channel_id = ?", [self.target.id]
                )
            self.present = {int(r[0]) for r in rows}
            self.authors = {int(r[0]): r[1] for r in rows}

    def plan_threads(self, archive: Archive, days: list[str]) -> None:
        """The first pass: every thread's replies, so parents are written complete."""
        seen: set[int] = set()
        quiet = Report()  # the second pass reports what is wrong, once
        for day in days:
            for message in day_messages(archive, day, quiet):
                try:
                    ts = parse_ts(str(message.get("ts", "")))
                    raw = message.get("thread_ts")
                    thread_ts = parse_ts(str(raw)) if raw else None
                except ValueError:
                    continue
                user = message.get("user")
                mapped = self.ids.user(user) if user is not None else None
                if (
                    ts in seen
                    or message.get("type", "message") != "message"
                    or (user is not None and mapped is None)
                ):
                    continue
                seen.add(ts)
                if thread_ts is not None and thread_ts != ts:
                    self.planned.setdefault(thread_ts, _Thread()).add(ts, mapped)

    async def write(self, day: str, messages: list[JSON]) -> None:
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
            if self.uploads is not None and row.extras is not None:
                await self._files(row)
            self.pending.append(row)
        if len(self.pending) >= self.batch:
            await self._drain()
            # committed while the next day files are read: the database works as Python parses
            self.inflight = asyncio.create_task(self._commit(self._take()))
        else:
            await asyncio.sleep(0)  # let a batch in flight move on

    async def _drain(self) -> None:
        task, self.inflight = self.inflight, None
        if task is not None:
            await task

    async def _files(self, row: Row) -> None:
        """The message's files whose bytes the export carries: bytes into the blob store, their
        rows written with the message's batch; the message's file object takes the file's id
        here (a remapped id is followed) and its links here."""
        assert self.uploads is not None and row.extras is not None
        extras = orjson.loads(row.extras)
        changed = False
        for obj in message_files(extras):
            original = obj["id"]
            if original not in self.uploads.entries:
                continue
            async with self.store.read(self.team_id) as conn:
                file_id, have = await file_id_for(conn, self.team_id, original)
            owner = str((obj.get("user") if isinstance(obj.get("user"), str) else row.user) or "")
            if have:
                self.uploads.used.add(original)
            else:
                blob = await self.uploads.put(original)
                if blob is None:
                    continue  # reported: the file stays metadata in the message, as it was
                self.files.append(file_row(obj, file_id, self.team_id, owner, blob, row.ts))
                self.report.add("file")
            obj["id"], changed = file_id, True
            point_here(obj, file_id, self.team_id, owner, self.public_url)
            self.shares.append((file_id, self.target.id, row.ts, self.team_id))
        if changed:
            row.extras = orjson.dumps(extras).decode()

    def _take(self) -> _Batch:
        rows, self.pending = self.pending, []
        batch = self._prepare(rows)
        batch.files, batch.shares, self.files, self.shares = self.files, self.shares, [], []
        return batch

    async def flush(self) -> None:
        await self._drain()
        if self.pending:
            await self._commit(self._take())

    def abandon(self) -> None:
        """Stop a batch in flight (the import failed elsewhere): its transaction rolls back."""
        if self.inflight is not None:
            self.inflight.cancel()

    def _values(self, r: Row) -> tuple[Any, ...]:
        reply = r.thread_ts is not None and r.thread_ts != r.ts
        parent_user = self.authors.get(r.thread_ts) if reply and r.thread_ts is not None else None
        thread_ts, replies = r.thread_ts, None
        if reply and r.thread_ts is not None and r.thread_ts not in self.planned:
            self.touched.add(r.thread_ts)  # its parent is older than this import: recount it
        planned = self.planned.get(r.ts)
        if planned is not None:
            thread_ts, replies = r.ts, planned
        self.last_ts = max(self.last_ts, r.ts)
        return (
            self.target.id, r.ts, self.team_id, r.user, r.text, r.subtype, thread_ts,
            replies.count if replies else 0,
            orjson.dumps(replies.users).decode() if replies else None,
            replies.latest if replies else None,
            r.edited_ts, r.edited_user, parent_user, r.blocks, r.attachments, r.metadata, r.extra_text,
        )  # fmt: skip

    def _prepare(self, rows: list[Row]) -> _Batch:
        """A batch's rows and events, ready to write (pure: no I/O)."""
        conv = self.target.id
        values = [self._values(r) for r in rows]
        reactions = [
            (conv, r.ts, name, user, r.ts + n) for r in rows for n, (name, user) in enumerate(r.reactions)
        ]
        extras = [(conv, r.ts, self.team_id, r.extras) for r in rows if r.extras]
        events: list[JSON] = []
        for r, row in zip(rows, values, strict=True):
            events += self._events(r, row)
        return _Batch(values, reactions, extras, events)

    async def _commit(self, batch: _Batch) -> None:
        async with self.store.write(self.team_id) as tx:
            await tx.conn.executemany(MESSAGES_SQL, batch.values)
            if batch.reactions:
                await tx.conn.executemany(REACTIONS_SQL, batch.reactions)
            if batch.extras:
                await tx.conn.executemany(EXTRAS_SQL, batch.extras)
            ignore = tx.db.insert_ignore()
            if batch.files:
                await tx.conn.executemany(FILES_SQL.replace("INSERT", ignore, 1), batch.files)
            if batch.shares:
                await tx.conn.executemany(SHARES_SQL.replace("INSERT", ignore, 1), batch.shares)
            for event in batch.events:
                await tx.emit(event)
        self.report.add("message", len(batch.values))
        self.report.add("reaction", len(batch.reactions))

    def _events(self, r: Row, row: tuple[Any, ...]) -> list[JSON]:
        """The message's one event: it carries its reactions (``reactions``, as Slack's message
        objects do), so no ``reaction_added`` is logged for them: the message and its reactions
        commit together, and whoever applies the event (the search indexer re-reads the row)
        sees both. ``imported``: the notifier decides no notification for it."""
        by_name: dict[str, list[str]] = {}
        for name, user in r.reactions:
            by_name.setdefault(name, []).append(user)
        message = message_from_row(
            row, [{"name": n, "users": u, "count": len(u)} for n, u in by_name.items()]
        )
        event: JSON = {"type": "message", "channel_type": self.target.channel_type, **message}
        event["channel"] = self.target.id
        event["imported"] = True  # history, not news: the notifier tells nobody about it
        if r.extras:
            event.update({k: v for k, v in orjson.loads(r.extras).items() if k not in event})
        return [event]

    async def finish(self) -> None:
        """The last batch; then threads whose parent predates this import get their reply
        fields from the replies stored, and the channel its last ts."""
        await self.flush()
        if not (self.touched or self.last_ts):
            return
        async with self.store.write(self.team_id) as tx:
            conn, conv = tx.conn, self.target.id
            for thread_ts in sorted(self.touched):
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

    async def mark_read(self, ts: int) -> None:
        """The memberships this import made start read at ``ts`` (the conversation's newest
        message in the export), before its messages are written: an import stopped half-way
        leaves them read too. Logged as ``channel_marked``, as a mark would be."""
        members = self.target.new_members
        if not ts or not members:
            return
        conv = self.target.id
        async with self.store.write(self.team_id) as tx:
            for i in range(0, len(members), CHUNK):
                part = members[i : i + CHUNK]
                await tx.conn.execute(
                    f"UPDATE members SET last_read = ? WHERE channel_id = ? AND last_read < ? "
                    f"AND user_id IN ({','.join('?' * len(part))})",
                    [ts, conv, ts, *part],
                )
            for user in members:
                await tx.emit(
                    {
                        "type": "channel_marked",
                        "channel": conv,
                        "channel_type": self.target.channel_type,
                        "user": user,
                        "ts": ts_str(ts),
                    }
                )


def newest(archive: Archive, days: list[str], ids: IdMap) -> int:
    """The newest ts of a message the import will write (``to_row`` takes it), from the last
    day files (one, unless it holds none); 0 when there is none."""
    quiet = Report()
    for day in reversed(days):
        found = [ts for m in day_messages(archive, day, quiet) if (ts := kept_ts(m, ids)) is not None]
        if found:
            return max(found)
    return 0
