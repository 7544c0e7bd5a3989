"""Messages: posting (with threads), editing, deleting, history and replies.

A message's ``ts`` is unique and strictly increasing per channel even under concurrent
posts: the workspace row is locked for the write (``Store.write``), and the new ts is
``max(now, channel.last_ts + 1µs)``.

A post may carry Slack's ``client_msg_id``: the poster's idempotency key. A client whose edge
died before the answer came sends the post again with the same id; the origin finds the first
one by (workspace, user, id) and answers with it instead of posting twice (a unique index backs
the look-up, which the workspace lock already serializes).
"""

from __future__ import annotations

import orjson

from origin.models import JSON, MESSAGE_COLUMNS, message_from_row
from origin.service.access import Visible, fetch_message, require_member, require_open, visible
from origin.service.auth import Caller
from origin.service.reactions import reactions_for
from origin.store.db import Conn, Row
from origin.store.shards import Store, WriteTx
from wire import cursors
from wire.errors import SlackError
from wire.ids import now_us, ts_str
from wire.visibility import channel_type

MAX_TEXT = 40_000
#: The columns a message is read with: the shared ones, then its client_msg_id.
MESSAGE_READ = f"{MESSAGE_COLUMNS}, client_msg_id"


def check_text(text: str) -> str:
    if not text or not text.strip():
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long", f"text is at most {MAX_TEXT} characters")
    return text


def _event_base(conv: Visible, kind: str) -> JSON:
    return {
        "type": kind,
        "channel": conv.id,
        "channel_type": channel_type(conv.kind, conv.is_private),
    }


def _message(row: Row, reactions: list[JSON] | None = None) -> JSON:
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


async def post(
    store: Store,
    caller: Caller,
    channel_id: str,
    text: str,
    thread_ts: int | None = None,
    client_msg_id: str | None = None,
) -> tuple[JSON, int]:
    """``chat.postMessage``: returns the message and the event offset it was logged at.

    With a ``client_msg_id`` the caller posted before, nothing is written: the original message
    is returned (its reactions included), with offset 0. Reusing an id for another channel is
    ``invalid_arguments``: the answer could not name the channel asked for.
    """
    check_text(text)
    async with store.write(caller.team_id) as tx:
        if client_msg_id is not None:
            first = await posted_before(tx.conn, caller, client_msg_id)
            if first is not None:
                if first[0] != channel_id:
                    raise SlackError("invalid_arguments", "client_msg_id was used for another channel")
                return _message(first, await reactions_for(tx.conn, str(first[0]), int(first[1]))), 0
        conv = await visible(tx.conn, caller, channel_id)
        require_member(conv)
        require_open(conv)
        parent: Row | None = None
        if thread_ts is not None:
            parent = await fetch_message(tx.conn, conv.id, thread_ts)
            # A reply to a reply belongs to the same thread.
            if parent[6] is not None and parent[6] != parent[1]:
                parent = await fetch_message(tx.conn, conv.id, int(parent[6]))
            thread_ts = int(parent[1])
        last = await tx.conn.fetchone("SELECT last_ts FROM conversations WHERE id = ?", [conv.id])
        ts = max(now_us(), int(last[0]) + 1 if last else 0)
        await tx.conn.execute("UPDATE conversations SET last_ts = ? WHERE id = ?", [ts, conv.id])
        row = (conv.id, ts, caller.team_id, caller.user_id, text, None, thread_ts, 0, None, None, None, None)
        if client_msg_id is None:  # the columns every schema version has
            columns, values = MESSAGE_COLUMNS, list(row)
        else:
            columns, values = MESSAGE_READ, [*row, client_msg_id]
        marks = ", ".join("?" * len(values))
        await tx.conn.execute(f"INSERT INTO messages ({columns}) VALUES ({marks})", values)
        event = _event_base(conv, "message")
        message = _message((*row, client_msg_id))
        if parent is not None:
            event["parent"] = await _bump_thread(tx, conv.id, parent, caller.user_id, ts)
        event.update(message)
        event["channel"] = conv.id
        offset = await tx.emit(event)
    return message, offset


async def _bump_thread(tx: WriteTx, channel_id: str, parent: Row, user_id: str, ts: int) -> JSON:
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


async def update(store: Store, caller: Caller, channel_id: str, ts: int, text: str) -> JSON:
    check_text(text)
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        require_open(conv)
        row = await fetch_message(tx.conn, conv.id, ts)
        if row[3] != caller.user_id or row[5] is not None:
            raise SlackError("cant_update_message")
        edited = now_us()
        await tx.conn.execute(
            "UPDATE messages SET text = ?, edited_ts = ?, edited_user = ? WHERE channel_id = ? AND ts = ?",
            [text, edited, caller.user_id, conv.id, ts],
        )
        new_row = await fetch_message(tx.conn, conv.id, ts)
        reactions = await reactions_for(tx.conn, conv.id, ts)
        previous = message_from_row(row, reactions)
        message = message_from_row(new_row, reactions)
        event = _event_base(conv, "message_changed")
        event.update(
            {
                "subtype": "message_changed",
                "hidden": True,
                "message": message,
                "previous_message": previous,
                "ts": ts_str(edited),
            }
        )
        await tx.emit(event)
    return message


async def delete(store: Store, caller: Caller, channel_id: str, ts: int) -> None:
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        row = await fetch_message(tx.conn, conv.id, ts)
        if row[3] != caller.user_id and not caller.is_admin:
            raise SlackError("cant_delete_message")
        previous = message_from_row(row)
        thread_ts = row[6]
        await tx.conn.execute("DELETE FROM messages WHERE channel_id = ? AND ts = ?", [conv.id, ts])
        await tx.conn.execute("DELETE FROM reactions WHERE channel_id = ? AND ts = ?", [conv.id, ts])
        if thread_ts is not None and thread_ts != ts:
            await _shrink_thread(tx.conn, conv.id, int(thread_ts))
        event = _event_base(conv, "message_deleted")
        event.update(
            {
                "subtype": "message_deleted",
                "hidden": True,
                "deleted_ts": ts_str(ts),
                "previous_message": previous,
                "ts": ts_str(now_us()),
            }
        )
        await tx.emit(event)


async def _shrink_thread(conn: Conn, channel_id: str, thread_ts: int) -> None:
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


async def _with_reactions(conn: Conn, channel_id: str, rows: list[Row]) -> list[JSON]:
    out = []
    for row in rows:
        out.append(_message(row, await reactions_for(conn, channel_id, int(row[1]))))
    return out


async def history(
    store: Store,
    caller: Caller,
    channel_id: str,
    oldest: int,
    latest: int | None,
    inclusive: bool,
    limit: int,
    cursor_ts: int | None,
) -> tuple[list[JSON], bool, str | None]:
    """Top-level messages (not thread replies), newest first, between oldest and latest."""
    upper = cursor_ts if cursor_ts is not None else latest
    upper_op = "<" if cursor_ts is not None or not inclusive else "<="
    lower_op = ">=" if inclusive else ">"
    params: list[object] = [channel_id, oldest]
    cond = ""
    if upper is not None:
        cond = f" AND ts {upper_op} ?"
        params.append(upper)
    async with store.read(caller.team_id) as conn:
        await visible(conn, caller, channel_id)
        rows = await conn.fetchall(
            f"SELECT {MESSAGE_READ} FROM messages WHERE channel_id = ? AND ts {lower_op} ?"
            f"{cond} AND (thread_ts IS NULL OR thread_ts = ts) ORDER BY ts DESC LIMIT ?",
            [*params, limit + 1],
        )
        more = len(rows) > limit
        messages = await _with_reactions(conn, channel_id, rows[:limit])
    next_cursor = cursors.encode("ts", str(rows[limit - 1][1])) if more else None
    return messages, more, next_cursor


async def replies(
    store: Store,
    caller: Caller,
    channel_id: str,
    ts: int,
    oldest: int,
    latest: int | None,
    inclusive: bool,
    limit: int,
    cursor_ts: int | None,
) -> tuple[list[JSON], bool, str | None]:
    """A thread: the parent, then replies in order (Slack's conversations.replies)."""
    async with store.read(caller.team_id) as conn:
        await visible(conn, caller, channel_id)
        parent = await fetch_message(conn, channel_id, ts)
        thread = int(parent[6]) if parent[6] is not None else ts
        lower = cursor_ts if cursor_ts is not None else oldest
        lower_op = ">" if cursor_ts is not None or not inclusive else ">="
        params: list[object] = [channel_id, thread, thread, lower]
        cond = ""
        if latest is not None:
            cond = " AND ts <= ?" if inclusive else " AND ts < ?"
            params.append(latest)
        rows = await conn.fetchall(
            f"SELECT {MESSAGE_READ} FROM messages WHERE channel_id = ? "
            f"AND (ts = ? OR thread_ts = ?) AND ts {lower_op} ?{cond} ORDER BY ts LIMIT ?",
            [*params, limit + 1],
        )
        more = len(rows) > limit
        messages = await _with_reactions(conn, channel_id, rows[:limit])
    next_cursor = cursors.encode("ts", str(rows[limit - 1][1])) if more else None
    return messages, more, next_cursor
