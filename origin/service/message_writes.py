"""One message written: the data of a post or an edit, and the statement-by-statement path.

:mod:`origin.service.messages` is the entry (``chat.postMessage``, ``chat.update``,
``chat.delete``); the group-commit jobs that decide many writes together are
:mod:`origin.service.message_batches`. Everything here runs inside one turn of a workspace's
write transaction: :func:`post_alone`, :func:`update_alone` and :func:`delete_alone` are what
a batch falls back to for a post to a name or a user, or when its statements failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from origin.models import JSON, MESSAGE_COLUMNS, MESSAGE_FIELDS, message_from_row
from origin.service import dms, targets
from origin.service.access import Visible, fetch_message, require_member, require_open, visible
from origin.service.auth import Caller
from origin.service.content import Content, from_row
from origin.service.reactions import reactions_for
from origin.store.db import Conn, Row
from origin.store.shards import WriteTx
from wire.errors import SlackError
from wire.ids import now_us, ts_str
from wire.visibility import channel_type

MAX_TEXT = 40_000
#: The columns a message is read with: the shared ones, then its client_msg_id.
MESSAGE_READ = f"{MESSAGE_FIELDS}, client_msg_id"
#: Subtypes a client may post (chat.meMessage); thread_broadcast comes from reply_broadcast.
POSTED_SUBTYPES = ("me_message",)


def check_text(text: str, content: Content | None = None) -> str:
    """``no_text`` unless the text, the blocks or the attachments say something."""
    if (not text or not text.strip()) and not (content is not None and content.has_body):
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long", f"text is at most {MAX_TEXT} characters")
    return text


def event_base(conv: Visible, kind: str) -> JSON:
    return {
        "type": kind,
        "channel": conv.id,
        "channel_type": channel_type(conv.kind, conv.is_private),
    }


def message_with_id(row: Row, reactions: list[JSON] | None = None) -> JSON:
    """A message read with ``MESSAGE_READ``: Slack's object, with its client_msg_id if it has one."""
    message = message_from_row(tuple(row[:-1]), reactions)
    if row[-1] is not None:
        message["client_msg_id"] = str(row[-1])
    return message


async def posted_before(conn: Conn, caller: Caller, client_msg_id: str) -> Row | None:
    """The message ``caller`` already posted with ``client_msg_id`` (``MESSAGE_READ``), if any."""
    return await conn.fetchone(
        f"SELECT {MESSAGE_READ} FROM messages WHERE team_id = ? AND user_id = ? AND client_msg_id = ?",
        [caller.team_id, caller.user_id, client_msg_id],
    )


@dataclass(frozen=True, slots=True)
class PostItem:
    """One post, as data (see :class:`Posts`)."""

    caller: Caller
    channel: str  # a reference, through targets.check_ref
    text: str
    thread_ts: int | None
    client_msg_id: str | None
    content: Content
    subtype: str | None
    broadcast: bool


Posted = tuple[str, JSON, int]


async def post_alone(tx: WriteTx, item: PostItem) -> Posted:
    """One post in its own turn of the workspace's transaction (statement by statement)."""
    caller = item.caller
    if item.client_msg_id is not None:
        first = await posted_before(tx.conn, caller, item.client_msg_id)
        if first is not None:
            ref = item.channel
            wanted = ref if targets.is_conversation_id(ref) else (await targets.resolve(tx, caller, ref)).id
            if first[0] != wanted:
                raise SlackError("invalid_arguments", "client_msg_id was used for another channel")
            reactions = await reactions_for(tx.conn, str(first[0]), int(first[1]))
            return str(first[0]), message_with_id(first, reactions), 0
    conv = await targets.resolve(tx, caller, item.channel)
    require_member(conv)
    require_open(conv)
    message, offset = await _insert(
        tx,
        caller,
        conv,
        item.text,
        item.thread_ts,
        item.client_msg_id,
        item.content,
        item.subtype,
        item.broadcast,
    )
    return conv.id, message, offset


async def _insert(
    tx: WriteTx,
    caller: Caller,
    conv: Visible,
    text: str,
    thread_ts: int | None,
    client_msg_id: str | None,
    content: Content,
    subtype: str | None,
    broadcast: bool,
) -> tuple[JSON, int]:
    parent: Row | None = None
    if thread_ts is not None:
        parent = await thread_root(tx.conn, conv.id, thread_ts)
        thread_ts = int(parent[1])
        if broadcast:
            subtype = "thread_broadcast"
    ts = await next_ts(tx.conn, conv.id)
    row = (conv.id, ts, caller.team_id, caller.user_id, text, subtype, thread_ts, 0, None, None, None, None)
    blocks, attachments, metadata, extra_text = content.columns()
    parent_user = None if parent is None else parent[3]
    optional = {
        "parent_user_id": parent_user,
        "blocks": blocks,
        "attachments": attachments,
        "metadata": metadata,
        "extra_text": extra_text,
        "client_msg_id": client_msg_id,
    }
    # Only the columns that hold something: a plain post writes what every schema version has.
    given = {k: v for k, v in optional.items() if v is not None}
    columns = ", ".join([MESSAGE_COLUMNS, *given])
    values = [*row, *given.values()]
    marks = ", ".join("?" * len(values))
    await tx.conn.execute(f"INSERT INTO messages ({columns}) VALUES ({marks})", values)
    await dms.reopen_for_all(tx, conv)
    event = event_base(conv, "message")
    message = message_with_id((*row, parent_user, blocks, attachments, metadata, client_msg_id))
    if parent is not None:
        event["parent"] = await bump_thread(tx, conv.id, parent, caller.user_id, ts)
    event.update(message)
    event["channel"] = conv.id
    offset = await tx.emit(event)
    return message, offset


async def thread_root(conn: Conn, channel_id: str, thread_ts: int) -> Row:
    """The root of the thread a reply to ``thread_ts`` joins: a reply to a reply belongs to
    the same thread (``message_not_found`` when there is no such message)."""
    parent = await fetch_message(conn, channel_id, thread_ts)
    if parent[6] is not None and parent[6] != parent[1]:
        parent = await fetch_message(conn, channel_id, int(parent[6]))
    return parent


async def next_ts(conn: Conn, channel_id: str) -> int:
    """Claim the channel's next message ts: now, or one past its last when the clock lags."""
    last = await conn.fetchone("SELECT last_ts FROM conversations WHERE id = ?", [channel_id])
    ts = max(now_us(), int(last[0]) + 1 if last else 0)
    await conn.execute("UPDATE conversations SET last_ts = ? WHERE id = ?", [ts, channel_id])
    return ts


async def bump_thread(tx: WriteTx, channel_id: str, parent: Row, user_id: str, ts: int) -> JSON:
    users: list[str] = orjson.loads(parent[8]) if parent[8] else []
    if user_id not in users:
        users.append(user_id)
    count = int(parent[7]) + 1
    await tx.conn.execute(
        "UPDATE messages SET thread_ts = ts, reply_count = ?, reply_users = ?, latest_reply = ? "
        "WHERE channel_id = ? AND ts = ?",
        [count, orjson.dumps(users).decode(), ts, channel_id, parent[1]],
    )
    return {"ts": ts_str(parent[1]), "reply_count": count, "reply_users": users, "latest_reply": ts_str(ts)}


@dataclass(frozen=True, slots=True)
class EditItem:
    """One ``chat.update`` (``kind`` "update") or ``chat.delete`` ("delete"), as data."""

    kind: str
    caller: Caller
    channel_id: str
    ts: int
    text: str  # update only
    content: Content  # update only


Columns = tuple[str | None, str | None, str | None, str | None]


def updated_columns(row: Sequence[Any], item: EditItem) -> Columns:
    """Decide an update of the message ``row``: only its author may edit it, and only a posted
    message (``cant_update_message``); the item's content is merged over the row's and checked.
    Returns the merged content's columns (blocks, attachments, metadata, extra_text)."""
    if row[3] != item.caller.user_id or row[5] not in (None, *POSTED_SUBTYPES, "thread_broadcast"):
        raise SlackError("cant_update_message")
    merged = item.content.over(from_row(*row[13:16]))
    check_text(item.text, merged)
    return merged.columns()


async def update_alone(tx: WriteTx, item: EditItem) -> JSON:
    """One update in its own turn of the workspace's transaction (statement by statement)."""
    caller, ts = item.caller, item.ts
    conv = await visible(tx.conn, caller, item.channel_id)
    require_open(conv)
    row = await fetch_message(tx.conn, conv.id, ts)
    blocks, attachments, metadata, extra_text = updated_columns(row, item)
    edited = now_us()
    await tx.conn.execute(
        "UPDATE messages SET text = ?, blocks = ?, attachments = ?, metadata = ?, extra_text = ?, "
        "edited_ts = ?, edited_user = ? WHERE channel_id = ? AND ts = ?",
        [item.text, blocks, attachments, metadata, extra_text, edited, caller.user_id, conv.id, ts],
    )
    new_row = await fetch_message(tx.conn, conv.id, ts)
    reactions = await reactions_for(tx.conn, conv.id, ts)
    message = message_from_row(new_row, reactions)
    await tx.emit(changed_event(conv, message_from_row(row, reactions), message, edited))
    return message


async def delete_alone(tx: WriteTx, item: EditItem) -> None:
    """One delete in its own turn of the workspace's transaction (statement by statement)."""
    caller, ts = item.caller, item.ts
    conv = await visible(tx.conn, caller, item.channel_id)
    row = await fetch_message(tx.conn, conv.id, ts)
    if row[3] != caller.user_id and not caller.is_admin:
        raise SlackError("cant_delete_message")
    previous = message_from_row(row)
    thread_ts = row[6]
    for table in MESSAGE_TABLES:
        await tx.conn.execute(f"DELETE FROM {table} WHERE channel_id = ? AND ts = ?", [conv.id, ts])
    if thread_ts is not None and thread_ts != ts:
        await shrink_thread(tx.conn, conv.id, int(thread_ts))
    await tx.emit(deleted_event(conv, ts, previous))


#: The tables a deleted message's rows go from, in the order they are deleted.
MESSAGE_TABLES = ("messages", "reactions", "pins", "message_extras")


def changed_event(conv: Visible, previous: JSON, message: JSON, edited: int) -> JSON:
    event = event_base(conv, "message_changed")
    event.update(
        {
            "subtype": "message_changed",
            "hidden": True,
            "message": message,
            "previous_message": previous,
            "ts": ts_str(edited),
        }
    )
    return event


def deleted_event(conv: Visible, ts: int, previous: JSON) -> JSON:
    event = event_base(conv, "message_deleted")
    event.update(
        {
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": ts_str(ts),
            "previous_message": previous,
            "ts": ts_str(now_us()),
        }
    )
    return event


async def shrink_thread(conn: Conn, channel_id: str, thread_ts: int) -> None:
    """Recompute a parent's reply fields after one of its replies was deleted."""
    rows = await conn.fetchall(
        "SELECT user_id, ts FROM messages WHERE channel_id = ? AND thread_ts = ? AND ts <> ? ORDER BY ts",
        [channel_id, thread_ts, thread_ts],
    )
    users = list(dict.fromkeys(str(r[0]) for r in rows))
    await conn.execute(
        "UPDATE messages SET reply_count = ?, reply_users = ?, latest_reply = ? "
        "WHERE channel_id = ? AND ts = ?",
        [len(rows), orjson.dumps(users).decode(), rows[-1][1] if rows else None, channel_id, thread_ts],
    )
