"""Sharing files: the ``file_share`` message, its shares rows and the ``file_shared`` events.

A file_share message is an ordinary message (in ``messages``, so history, threads, search and
deletion treat it as one) whose files travel in ``message_extras`` as their full objects: what
``conversations.history`` and the ``message`` event carry, so a reader (the search indexer, a
client) has every file's name, title and URLs with the message. A deleted file becomes a
tombstone there.
"""

from __future__ import annotations

import orjson

from origin.files.objects import tombstone
from origin.models import JSON, MESSAGE_COLUMNS
from origin.service import dms
from origin.service.access import Visible
from origin.service.auth import Caller
from origin.service.message_writes import bump_thread, event_base, message_with_id, next_ts, thread_root
from origin.store.db import Conn, Row
from origin.store.shards import WriteTx

EXTRAS_INSERT = "INSERT INTO message_extras (channel_id, ts, team_id, payload) VALUES (?, ?, ?, ?)"


async def post_files(
    tx: WriteTx, caller: Caller, conv: Visible, text: str, thread_ts: int | None, objs: list[JSON]
) -> tuple[JSON, int]:
    """Post the ``file_share`` message carrying ``objs`` in ``conv`` (a reply when
    ``thread_ts``); record the shares and emit the message then one ``file_shared`` per file.
    Returns the message and its offset."""
    parent: Row | None = None
    if thread_ts is not None:
        parent = await thread_root(tx.conn, conv.id, thread_ts)
        thread_ts = int(parent[1])
    ts = await next_ts(tx.conn, conv.id)
    row = (
        conv.id,
        ts,
        caller.team_id,
        caller.user_id,
        text,
        "file_share",
        thread_ts,
        0,
        None,
        None,
        None,
        None,
    )
    parent_user = None if parent is None else parent[3]
    columns, values = MESSAGE_COLUMNS, list(row)
    if parent_user is not None:
        columns, values = f"{columns}, parent_user_id", [*values, parent_user]
    marks = ", ".join("?" * len(values))
    await tx.conn.execute(f"INSERT INTO messages ({columns}) VALUES ({marks})", values)
    extras = {"files": objs, "upload": True, "display_as_bot": False}
    await tx.conn.execute(EXTRAS_INSERT, [conv.id, ts, caller.team_id, orjson.dumps(extras).decode()])
    for obj in objs:
        await tx.conn.execute(
            "INSERT INTO file_shares (file_id, channel_id, ts, team_id) VALUES (?, ?, ?, ?)",
            [obj["id"], conv.id, ts, caller.team_id],
        )
    await dms.reopen_for_all(tx, conv)
    message = message_with_id((*row, parent_user, None, None, None, None))
    message.update(extras)
    event = event_base(conv, "message")
    if parent is not None:
        event["parent"] = await bump_thread(tx, conv.id, parent, caller.user_id, ts)
    event.update(message)
    event["channel"] = conv.id
    offset = await tx.emit(event)
    for obj in objs:
        shared = event_base(conv, "file_shared")
        shared.update(
            {
                "file_id": obj["id"],
                "file": {"id": obj["id"]},
                "user_id": caller.user_id,
                "channel_id": conv.id,
            }
        )
        await tx.emit(shared)
    return message, offset


async def tombstone_in_messages(conn: Conn, file_id: str) -> list[str]:
    """Replace the file by its tombstone in every message that shares it; drop the shares.
    Returns the channels it was shared in."""
    shares = await conn.fetchall("SELECT channel_id, ts FROM file_shares WHERE file_id = ?", [file_id])
    for channel_id, ts in shares:
        found = await conn.fetchone(
            "SELECT payload FROM message_extras WHERE channel_id = ? AND ts = ?", [channel_id, ts]
        )
        if found is None:
            continue
        payload = orjson.loads(found[0])
        files = payload.get("files")
        if isinstance(files, list):
            payload["files"] = [
                tombstone(file_id) if isinstance(f, dict) and f.get("id") == file_id else f for f in files
            ]
            await conn.execute(
                "UPDATE message_extras SET payload = ? WHERE channel_id = ? AND ts = ?",
                [orjson.dumps(payload).decode(), channel_id, ts],
            )
    await conn.execute("DELETE FROM file_shares WHERE file_id = ?", [file_id])
    return list(dict.fromkeys(str(r[0]) for r in shares))
