"""The group-commit jobs of messages (:mod:`origin.store.group`): :class:`Posts` for
``chat.postMessage`` (thread replies included), :class:`Edits` for ``chat.update`` and
``chat.delete``; see :mod:`origin.service.messages` for how a batch is decided.

Each reads what its batch needs in a few statements, decides every write in queue order in
memory (each seeing those before it, as if they had run one after the other), then writes
them all in a few statements; a write it cannot batch runs alone
(:mod:`origin.service.message_writes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from origin.models import CONVERSATION_COLUMNS, JSON, MESSAGE_COLUMNS, MESSAGE_FIELDS, message_from_row
from origin.service import targets
from origin.service.access import Visible, require_member, require_open
from origin.service.auth import Caller
from origin.service.message_writes import (
    MESSAGE_READ,
    MESSAGE_TABLES,
    EditItem,
    Posted,
    PostItem,
    changed_event,
    delete_alone,
    deleted_event,
    event_base,
    message_with_id,
    post_alone,
    update_alone,
    updated_columns,
)
from origin.service.reactions import reactions_for
from origin.store.db import Conn, Row
from origin.store.shards import WriteTx
from wire.errors import SlackError
from wire.ids import now_us, ts_str
from wire.visibility import is_public_kind

#: A message being posted in a batch, as ``MESSAGE_READ`` reads it (a list: a thread parent's
#: reply fields change as the batch's replies to it are decided).
_MessageState = list[Any]
_Key = tuple[str, int]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class _Batch:
    """What one batch of posts read (under the lock, a few statements for all of them) and
    what it decided so far, in queue order: the state each post sees is that of the posts
    before it, as if they had run one after the other."""

    def __init__(self, team_id: str) -> None:
        self.team_id = team_id
        self.convs: dict[str, Row] = {}
        self.last_ts: dict[str, int] = {}
        self.members: dict[tuple[str, str], int] = {}  # (channel, user) -> last_read
        self.stored: dict[_Key, _MessageState] = {}  # messages read: thread parents
        self.posted_before: dict[tuple[str, str], Row] = {}  # (user, client_msg_id) -> MESSAGE_READ
        self.made: dict[_Key, _MessageState] = {}  # posted by this batch, in order
        self.extra_text: dict[_Key, str | None] = {}
        self.made_ids: dict[tuple[str, str], _MessageState] = {}  # (user, client_msg_id)
        self.touched_convs: set[str] = set()
        self.touched_parents: dict[_Key, _MessageState] = {}  # stored parents given replies
        self.reopen: set[str] = set()

    async def read(self, conn: Conn, items: list[PostItem]) -> None:
        channels = list(dict.fromkeys(i.channel for i in items))
        users = list(dict.fromkeys(i.caller.user_id for i in items))
        columns = ", ".join(f"c.{c.strip()}" for c in CONVERSATION_COLUMNS.split(","))
        width = len(CONVERSATION_COLUMNS.split(","))
        rows = await conn.fetchall(
            f"SELECT {columns}, c.last_ts, m.user_id, m.last_read FROM conversations c "
            f"LEFT JOIN members m ON m.channel_id = c.id AND m.user_id IN ({_marks(len(users))}) "
            f"WHERE c.id IN ({_marks(len(channels))}) AND c.team_id = ?",
            [*users, *channels, self.team_id],
        )
        for row in rows:
            cid = str(row[0])
            self.convs[cid] = tuple(row[:width])
            self.last_ts[cid] = int(row[width])
            if row[width + 1] is not None:
                self.members[(cid, str(row[width + 1]))] = int(row[width + 2])
        ids = [(i.caller.user_id, i.client_msg_id) for i in items if i.client_msg_id is not None]
        if ids:
            id_users = list(dict.fromkeys(u for u, _ in ids))
            id_values = list(dict.fromkeys(c for _, c in ids))
            for row in await conn.fetchall(
                f"SELECT {MESSAGE_READ} FROM messages WHERE team_id = ? "
                f"AND user_id IN ({_marks(len(id_users))}) AND client_msg_id IN ({_marks(len(id_values))})",
                [self.team_id, *id_users, *id_values],
            ):
                self.posted_before[(str(row[3]), str(row[-1]))] = row
        wanted = [(i.channel, i.thread_ts) for i in items if i.thread_ts is not None]

        await self._read_messages(conn, wanted)
        # a reply to a reply belongs to its parent's thread: read those parents too
        roots = [(k[0], int(m[6])) for k, m in self.stored.items() if m[6] is not None and m[6] != m[1]]
        await self._read_messages(conn, [k for k in roots if k not in self.stored])

    async def _read_messages(self, conn: Conn, keys: Sequence[tuple[str, int | None]]) -> None:
        if not keys:
            return
        channels = list(dict.fromkeys(k[0] for k in keys))
        stamps = list(dict.fromkeys(k[1] for k in keys))
        for row in await conn.fetchall(
            f"SELECT {MESSAGE_READ} FROM messages WHERE channel_id IN ({_marks(len(channels))}) "
            f"AND ts IN ({_marks(len(stamps))})",
            [*channels, *stamps],
        ):
            self.stored[(str(row[0]), int(row[1]))] = list(row)

    def message(self, channel_id: str, ts: int) -> _MessageState:
        """A message as the current post sees it, else ``message_not_found``."""
        found = self.made.get((channel_id, ts)) or self.stored.get((channel_id, ts))
        if found is None:
            raise SlackError("message_not_found")
        return found

    async def decide(self, tx: WriteTx, item: PostItem) -> Posted:
        """The post's outcome, recorded in the batch (nothing of it when it raises a
        SlackError). No statement runs here but, for a ``client_msg_id`` posted before, the
        read of that message's reactions."""
        caller = item.caller
        if item.client_msg_id is not None:
            key = (caller.user_id, item.client_msg_id)
            made = self.made_ids.get(key)
            first = tuple(made) if made is not None else self.posted_before.get(key)
            if first is not None:
                if first[0] != item.channel:
                    raise SlackError("invalid_arguments", "client_msg_id was used for another channel")
                # nothing can have reacted yet to a message of this batch
                reactions = (
                    [] if made is not None else await reactions_for(tx.conn, item.channel, int(first[1]))
                )
                return item.channel, message_with_id(first, reactions), 0
        row = self.convs.get(item.channel)
        if row is None:
            raise SlackError("channel_not_found")
        last_read = self.members.get((item.channel, caller.user_id))
        if last_read is None and not is_public_kind(str(row[3]), bool(row[4])):
            raise SlackError("channel_not_found")
        conv = Visible(row, last_read is not None, last_read or 0)
        require_member(conv)
        require_open(conv)
        parent: _MessageState | None = None
        subtype = item.subtype
        thread_ts = item.thread_ts
        if thread_ts is not None:
            parent = self.message(conv.id, thread_ts)
            if parent[6] is not None and parent[6] != parent[1]:
                parent = self.message(conv.id, int(parent[6]))
            thread_ts = int(parent[1])
            if item.broadcast:
                subtype = "thread_broadcast"
        # decided: from here on the post is recorded
        ts = max(now_us(), self.last_ts[conv.id] + 1)
        self.last_ts[conv.id] = ts
        self.touched_convs.add(conv.id)
        blocks, attachments, metadata, extra_text = item.content.columns()
        parent_user = None if parent is None else parent[3]
        row12 = [conv.id, ts, self.team_id, caller.user_id, item.text, subtype, thread_ts, 0]
        row12 += [None, None, None, None]  # reply_users, latest_reply, edited_ts, edited_user
        state: _MessageState = [*row12, parent_user, blocks, attachments, metadata, item.client_msg_id]
        self.made[(conv.id, ts)] = state
        self.extra_text[(conv.id, ts)] = extra_text
        if item.client_msg_id is not None:
            self.made_ids[(caller.user_id, item.client_msg_id)] = state
        if conv.kind in ("im", "mpim"):
            self.reopen.add(conv.id)
        event = event_base(conv, "message")
        message = message_with_id(tuple(state))
        if parent is not None:
            event["parent"] = self._bump(parent, caller.user_id, ts)
        event.update(message)
        event["channel"] = conv.id
        return conv.id, message, await tx.emit(event)

    def _bump(self, parent: _MessageState, user_id: str, ts: int) -> JSON:
        users: list[str] = orjson.loads(parent[8]) if parent[8] else []
        if user_id not in users:
            users.append(user_id)
        parent[6] = parent[1]
        parent[7] = int(parent[7]) + 1
        parent[8] = orjson.dumps(users).decode()
        parent[9] = ts
        key = (str(parent[0]), int(parent[1]))
        if key not in self.made:
            self.touched_parents[key] = parent
        return {
            "ts": ts_str(parent[1]),
            "reply_count": parent[7],
            "reply_users": users,
            "latest_reply": ts_str(ts),
        }

    async def write(self, conn: Conn) -> None:
        """What the batch decided, in a few statements for all of its posts."""
        convs = sorted(self.touched_convs)
        if len(convs) == 1:
            await conn.execute(
                "UPDATE conversations SET last_ts = ? WHERE id = ?", [self.last_ts[convs[0]], convs[0]]
            )
        elif convs:
            cases = " ".join("WHEN ? THEN ?" for _ in convs)
            await conn.execute(
                f"UPDATE conversations SET last_ts = CASE id {cases} END WHERE id IN ({_marks(len(convs))})",
                [*(v for c in convs for v in (c, self.last_ts[c])), *convs],
            )
        # Only the columns that hold something (a plain post writes what every schema version
        # has): one multi-row insert per set of columns.
        inserts: dict[tuple[str, ...], list[list[Any]]] = {}
        for key, state in self.made.items():
            optional = dict(zip(_OPTIONAL, (*state[12:16], self.extra_text[key], state[16]), strict=True))
            given = {k: v for k, v in optional.items() if v is not None}
            inserts.setdefault(tuple(given), []).append([*state[:12], *given.values()])
        for names, rows in inserts.items():
            columns = ", ".join([MESSAGE_COLUMNS, *names])
            await conn.executemany(
                f"INSERT INTO messages ({columns}) VALUES ({_marks(12 + len(names))})", rows
            )
        parents = list(self.touched_parents.values())
        if len(parents) == 1:
            p = parents[0]
            await conn.execute(
                "UPDATE messages SET thread_ts = ts, reply_count = ?, reply_users = ?, latest_reply = ? "
                "WHERE channel_id = ? AND ts = ?",
                [p[7], p[8], p[9], p[0], p[1]],
            )
        elif parents:
            when = " ".join("WHEN channel_id = ? AND ts = ? THEN ?" for _ in parents)
            where = " OR ".join("(channel_id = ? AND ts = ?)" for _ in parents)
            params: list[Any] = []
            for column in (7, 8, 9):
                params.extend(v for p in parents for v in (p[0], p[1], p[column]))
            params.extend(v for p in parents for v in (p[0], p[1]))
            await conn.execute(
                f"UPDATE messages SET thread_ts = ts, reply_count = CASE {when} END, "
                f"reply_users = CASE {when} END, latest_reply = CASE {when} END WHERE {where}",
                params,
            )
        if self.reopen:
            reopen = sorted(self.reopen)
            await conn.execute(
                f"UPDATE members SET is_open = 1 WHERE channel_id IN ({_marks(len(reopen))}) AND is_open = 0",
                reopen,
            )


#: The optional message columns, in the order a batch's rows carry them.
_OPTIONAL = ("parent_user_id", "blocks", "attachments", "metadata", "extra_text", "client_msg_id")


class Posts:
    """Posts as group-commit jobs (:class:`origin.store.group.Batcher`): the posts queued
    one after another behind a workspace's lock are decided together, with one read of their
    conversations and memberships (and of thread parents and client_msg_ids, when they have
    some), one ``last_ts`` update, one multi-row message insert and one update of the thread
    parents. A post to a conversation id is batched; one to a name or a user (a DM that may
    need opening) runs alone, statement by statement, as does every post of a batch whose
    statements failed."""

    def batchable(self, item: PostItem) -> bool:
        return targets.is_conversation_id(item.channel)

    async def run_one(self, tx: WriteTx, item: PostItem) -> Posted:
        return await post_alone(tx, item)

    async def run_batch(self, tx: WriteTx, items: list[PostItem]) -> list[Posted | Exception]:
        batch = _Batch(tx.team_id)
        await batch.read(tx.conn, items)
        outcomes: list[Posted | Exception] = []
        for item in items:
            try:
                outcomes.append(await batch.decide(tx, item))
            except SlackError as exc:
                outcomes.append(exc)
        await batch.write(tx.conn)
        return outcomes


POSTS = Posts()


def _pairs(keys: Sequence[_Key]) -> tuple[str, list[Any]]:
    """``(channel_id = ? AND ts = ?) OR ...`` for ``keys``, and its parameters."""
    where = " OR ".join("(channel_id = ? AND ts = ?)" for _ in keys)
    return where, [v for k in keys for v in k]


class _EditBatch:
    """What one batch of updates and deletes read (a few statements for all of them) and
    what it decided so far, in queue order, as :class:`_Batch` does for posts."""

    def __init__(self, team_id: str) -> None:
        self.team_id = team_id
        self.convs: dict[str, Row] = {}
        self.members: dict[tuple[str, str], int] = {}  # (channel, user) -> last_read
        self.rows: dict[_Key, list[Any] | None] = {}  # MESSAGE_FIELDS; None once deleted
        self.reactions: dict[_Key, list[tuple[str, str]]] = {}  # (name, user), in order
        self.replies: dict[_Key, dict[int, str]] = {}  # thread root -> {reply ts: user}
        self.edited: dict[_Key, tuple[Any, ...]] = {}  # the edit columns, last edit wins
        self.shrunk: set[_Key] = set()  # roots whose reply fields a delete changed
        self.deleted: list[_Key] = []

    async def read(self, conn: Conn, items: list[EditItem]) -> None:
        channels = list(dict.fromkeys(i.channel_id for i in items))
        users = list(dict.fromkeys(i.caller.user_id for i in items))
        columns = ", ".join(f"c.{c.strip()}" for c in CONVERSATION_COLUMNS.split(","))
        width = len(CONVERSATION_COLUMNS.split(","))
        for row in await conn.fetchall(
            f"SELECT {columns}, m.user_id, m.last_read FROM conversations c "
            f"LEFT JOIN members m ON m.channel_id = c.id AND m.user_id IN ({_marks(len(users))}) "
            f"WHERE c.id IN ({_marks(len(channels))}) AND c.team_id = ?",
            [*users, *channels, self.team_id],
        ):
            cid = str(row[0])
            self.convs[cid] = tuple(row[:width])
            if row[width] is not None:
                self.members[(cid, str(row[width]))] = int(row[width + 1])
        keys = list(dict.fromkeys((i.channel_id, i.ts) for i in items if i.channel_id in self.convs))
        await self._read_messages(conn, keys)
        # the roots of the replies a delete may shrink, and every reply of those threads
        doomed = [(i.channel_id, i.ts) for i in items if i.kind == "delete"]
        found = [(k, r) for k in doomed if (r := self.rows.get(k)) is not None]
        roots = list(dict.fromkeys((k[0], int(r[6])) for k, r in found if r[6] is not None and r[6] != r[1]))
        await self._read_messages(conn, [k for k in roots if k not in self.rows])
        if roots:
            threads = " OR ".join("(channel_id = ? AND thread_ts = ?)" for _ in roots)
            for channel_id, thread_ts, user_id, ts in await conn.fetchall(
                "SELECT channel_id, thread_ts, user_id, ts FROM messages "
                f"WHERE ({threads}) AND ts <> thread_ts",
                [v for k in roots for v in k],
            ):
                self.replies.setdefault((str(channel_id), int(thread_ts)), {})[int(ts)] = str(user_id)
        updated = [k for k in keys if self.rows.get(k) is not None]
        if updated and any(i.kind == "update" for i in items):
            where, params = _pairs(updated)
            for channel_id, ts, name, user_id, _ in await conn.fetchall(
                f"SELECT channel_id, ts, name, user_id, added FROM reactions WHERE {where} "
                "ORDER BY added, user_id",
                params,
            ):
                self.reactions.setdefault((str(channel_id), int(ts)), []).append((str(name), str(user_id)))

    async def _read_messages(self, conn: Conn, keys: Sequence[_Key]) -> None:
        if not keys:
            return
        where, params = _pairs(keys)
        for row in await conn.fetchall(f"SELECT {MESSAGE_FIELDS} FROM messages WHERE {where}", params):
            self.rows[(str(row[0]), int(row[1]))] = list(row)

    def visible(self, caller: Caller, channel_id: str) -> Visible:
        """As :func:`origin.service.access.visible`, from what the batch read."""
        row = self.convs.get(channel_id)
        if row is None:
            raise SlackError("channel_not_found")
        last_read = self.members.get((channel_id, caller.user_id))
        if last_read is None and not is_public_kind(str(row[3]), bool(row[4])):
            raise SlackError("channel_not_found")
        return Visible(row, last_read is not None, last_read or 0)

    def message(self, key: _Key) -> list[Any]:
        row = self.rows.get(key)
        if row is None:
            raise SlackError("message_not_found")
        return row

    def reactions_of(self, key: _Key) -> list[JSON]:
        by_name: dict[str, list[str]] = {}
        for name, user_id in self.reactions.get(key, []):
            by_name.setdefault(name, []).append(user_id)
        return [{"name": n, "users": u, "count": len(u)} for n, u in by_name.items()]

    def decide(self, item: EditItem) -> tuple[JSON | None, JSON]:
        """The edit's answer and event, recorded in the batch (nothing of it when it raises a
        SlackError); no statement runs here."""
        caller, ts = item.caller, item.ts
        conv = self.visible(caller, item.channel_id)
        key = (conv.id, ts)
        if item.kind == "update":
            require_open(conv)
            row = self.message(key)
            blocks, attachments, metadata, extra_text = updated_columns(row, item)
            edited = now_us()
            reactions = self.reactions_of(key)
            previous = message_from_row(tuple(row), reactions)
            row[4], row[10], row[11] = item.text, edited, caller.user_id
            row[13], row[14], row[15] = blocks, attachments, metadata
            self.edited[key] = (item.text, blocks, attachments, metadata, extra_text, edited, caller.user_id)
            message = message_from_row(tuple(row), reactions)
            return message, changed_event(conv, previous, message, edited)
        row = self.message(key)
        if row[3] != caller.user_id and not caller.is_admin:
            raise SlackError("cant_delete_message")
        previous = message_from_row(tuple(row))
        self.rows[key] = None
        self.reactions.pop(key, None)
        self.edited.pop(key, None)
        self.deleted.append(key)
        thread_ts = row[6]
        if thread_ts is not None and thread_ts != ts:
            root = (conv.id, int(thread_ts))
            replies = self.replies.setdefault(root, {})
            replies.pop(ts, None)
            parent = self.rows.get(root)
            if parent is not None:  # as _shrink_thread: the remaining replies, by ts
                order = sorted(replies)
                users = list(dict.fromkeys(replies[t] for t in order))
                parent[7], parent[8] = len(order), orjson.dumps(users).decode()
                parent[9] = order[-1] if order else None
                self.shrunk.add(root)
        return None, deleted_event(conv, ts, previous)

    async def write(self, conn: Conn) -> None:
        """What the batch decided, in a few statements for all of its edits."""
        if self.deleted:
            where, params = _pairs(self.deleted)
            for table in MESSAGE_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE {where}", params)
        edited = [(k, v) for k, v in self.edited.items() if self.rows.get(k) is not None]
        if edited:
            await _update_cases(
                conn,
                ("text", "blocks", "attachments", "metadata", "extra_text", "edited_ts", "edited_user"),
                edited,
            )
        shrunk = [k for k in self.shrunk if self.rows.get(k) is not None]
        if shrunk:
            await _update_cases(
                conn,
                ("reply_count", "reply_users", "latest_reply"),
                [(k, tuple(self.message(k)[7:10])) for k in shrunk],
            )


async def _update_cases(conn: Conn, names: Sequence[str], rows: Sequence[tuple[_Key, Sequence[Any]]]) -> None:
    """Set ``names`` of each message of ``rows`` to its values, in one statement."""
    if len(rows) == 1:
        (channel_id, ts), values = rows[0]
        sets = ", ".join(f"{n} = ?" for n in names)
        await conn.execute(
            f"UPDATE messages SET {sets} WHERE channel_id = ? AND ts = ?", [*values, channel_id, ts]
        )
        return
    when = " ".join("WHEN channel_id = ? AND ts = ? THEN ?" for _ in rows)
    sets = ", ".join(f"{n} = CASE {when} END" for n in names)
    where, where_params = _pairs([k for k, _ in rows])
    params: list[Any] = []
    for column in range(len(names)):
        params.extend(v for k, values in rows for v in (*k, values[column]))
    await conn.execute(f"UPDATE messages SET {sets} WHERE {where}", [*params, *where_params])


class Edits:
    """``chat.update`` and ``chat.delete`` as group-commit jobs (:class:`origin.store.group.Batcher`):
    the edits queued one after another behind a workspace's lock are decided together, in
    queue order, from one read of their conversations and memberships, one of their messages
    (and their thread roots), one of those threads' replies (for deletes) and one of their
    reactions (for updates); then one delete per table for the deleted messages, one update of
    the edited ones and one of the thread roots whose replies went. Every edit of a batch whose
    statements failed runs alone (:func:`update_alone`, :func:`delete_alone`)."""

    def batchable(self, item: EditItem) -> bool:
        return True

    async def run_one(self, tx: WriteTx, item: EditItem) -> JSON | None:
        if item.kind == "update":
            return await update_alone(tx, item)
        await delete_alone(tx, item)
        return None

    async def run_batch(self, tx: WriteTx, items: list[EditItem]) -> list[JSON | Exception | None]:
        batch = _EditBatch(tx.team_id)
        await batch.read(tx.conn, items)
        outcomes: list[JSON | Exception | None] = []
        for item in items:
            try:
                answer, event = batch.decide(item)
            except SlackError as exc:
                outcomes.append(exc)
                continue
            await tx.emit(event)
            outcomes.append(answer)
        await batch.write(tx.conn)
        return outcomes


EDITS = Edits()
