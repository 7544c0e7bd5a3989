"""Messages: posting (with threads, broadcasts and what apps post besides text), editing and
deleting. Reading them is :mod:`origin.service.history`.

A message's ``ts`` is unique and strictly increasing per channel even under concurrent
posts: the workspace row is locked for the write (``Store.write``), and the new ts is
``max(now, channel.last_ts + 1µs)``.

A post may carry Slack's ``client_msg_id``: the poster's idempotency key. A client whose edge
died before the answer came sends the post again with the same id; the origin finds the first
one by (workspace, user, id) and answers with it instead of posting twice (a unique index backs
the look-up, which the workspace lock already serializes).

A thread reply names its parent's author (``parent_user_id``). A reply with ``reply_broadcast``
is Slack's ``thread_broadcast``: one message, subtype ``thread_broadcast``, with the thread's
``thread_ts``, that is both in the thread (``conversations.replies``, the parent's
``reply_count``) and in the channel (``conversations.history``). It is logged once, as one
``message`` event; editing or deleting it changes it in both places at once.
"""

from __future__ import annotations

import orjson

from origin.models import JSON, MESSAGE_COLUMNS, MESSAGE_FIELDS, message_from_row
from origin.service import dms, targets
from origin.service.access import Visible, fetch_message, require_member, require_open, visible
from origin.service.auth import Caller
from origin.service.content import Content, from_row
from origin.service.reactions import reactions_for
from origin.store.db import Conn, Row
from origin.store.shards import Store, WriteTx
from wire.errors import SlackError, invalid_arguments
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


async def post(
    store: Store,
    caller: Caller,
    channel: str,
    text: str,
    thread_ts: int | None = None,
    client_msg_id: str | None = None,
    *,
    content: Content | None = None,
    subtype: str | None = None,
    broadcast: bool = False,
) -> tuple[JSON, int]:
    """``chat.postMessage``: returns the message and the event offset it was logged at (see
    :func:`post_to`, which also says where it went)."""
    _, message, offset = await post_to(
        store,
        caller,
        channel,
        text,
        thread_ts,
        client_msg_id,
        content=content,
        subtype=subtype,
        broadcast=broadcast,
    )
    return message, offset


async def post_to(
    store: Store,
    caller: Caller,
    channel: str,
    text: str,
    thread_ts: int | None = None,
    client_msg_id: str | None = None,
    *,
    content: Content | None = None,
    subtype: str | None = None,
    broadcast: bool = False,
) -> tuple[str, JSON, int]:
    """Post to ``channel`` (an id, a name or a user id: :mod:`origin.service.targets`);
    returns (channel id, message, offset).

    With a ``client_msg_id`` the caller posted before, nothing is written: the original message
    is returned (its reactions included), with offset 0. Reusing an id for another channel is
    ``invalid_arguments``: the answer could not name the channel asked for.
    """
    content = content or Content()
    check_text(text, content)
    if subtype is not None and subtype not in POSTED_SUBTYPES:
        raise invalid_arguments("subtype", f"one of {POSTED_SUBTYPES}")
    async with store.write(caller.team_id) as tx:
        if client_msg_id is not None:
            first = await posted_before(tx.conn, caller, client_msg_id)
            if first is not None:
                ref = targets.check_ref(channel)
                wanted = (
                    ref if targets.is_conversation_id(ref) else (await targets.resolve(tx, caller, ref)).id
                )
                if first[0] != wanted:
                    raise SlackError("invalid_arguments", "client_msg_id was used for another channel")
                reactions = await reactions_for(tx.conn, str(first[0]), int(first[1]))
                return str(first[0]), message_with_id(first, reactions), 0
        conv = await targets.resolve(tx, caller, channel)
        require_member(conv)
        require_open(conv)
        message, offset = await _insert(
            tx, caller, conv, text, thread_ts, client_msg_id, content, subtype, broadcast
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
        parent = await fetch_message(tx.conn, conv.id, thread_ts)
        # A reply to a reply belongs to the same thread.
        if parent[6] is not None and parent[6] != parent[1]:
            parent = await fetch_message(tx.conn, conv.id, int(parent[6]))
        thread_ts = int(parent[1])
        if broadcast:
            subtype = "thread_broadcast"
    last = await tx.conn.fetchone("SELECT last_ts FROM conversations WHERE id = ?", [conv.id])
    ts = max(now_us(), int(last[0]) + 1 if last else 0)
    await tx.conn.execute("UPDATE conversations SET last_ts = ? WHERE id = ?", [ts, conv.id])
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


async def update(
    store: Store, caller: Caller, channel_id: str, ts: int, text: str, content: Content | None = None
) -> JSON:
    """``chat.update``: new text, and the blocks, attachments or metadata given (what is not
    given is kept; an empty list removes them)."""
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        require_open(conv)
        row = await fetch_message(tx.conn, conv.id, ts)
        if row[3] != caller.user_id or row[5] not in (None, *POSTED_SUBTYPES, "thread_broadcast"):
            raise SlackError("cant_update_message")
        merged = (content or Content()).over(from_row(*row[13:16]))
        check_text(text, merged)
        blocks, attachments, metadata, extra_text = merged.columns()
        edited = now_us()
        await tx.conn.execute(
            "UPDATE messages SET text = ?, blocks = ?, attachments = ?, metadata = ?, extra_text = ?, "
            "edited_ts = ?, edited_user = ? WHERE channel_id = ? AND ts = ?",
            [text, blocks, attachments, metadata, extra_text, edited, caller.user_id, conv.id, ts],
        )
        new_row = await fetch_message(tx.conn, conv.id, ts)
        reactions = await reactions_for(tx.conn, conv.id, ts)
        previous = message_from_row(row, reactions)
        message = message_from_row(new_row, reactions)
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
        await tx.conn.execute("DELETE FROM pins WHERE channel_id = ? AND ts = ?", [conv.id, ts])
        await tx.conn.execute("DELETE FROM message_extras WHERE channel_id = ? AND ts = ?", [conv.id, ts])
        if thread_ts is not None and thread_ts != ts:
            await _shrink_thread(tx.conn, conv.id, int(thread_ts))
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
