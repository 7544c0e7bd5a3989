"""Pinned messages: at most one pin per message, by a member of its conversation.

``pin_added`` / ``pin_removed`` go to the conversation's members (Slack's shapes, with
``channel_id``; ``channel`` and ``channel_type`` as the other channel events have them for
routing). Deleting a message removes its pin with it (the ``message_deleted`` event says so).
"""

from __future__ import annotations

from origin.models import JSON, message_from_row, permalink
from origin.service.access import Visible, fetch_message, require_member, require_open, visible
from origin.service.auth import Caller
from origin.service.reactions import reactions_for
from origin.store.db import Conn, Row
from origin.store.shards import Store, WriteTx
from wire.errors import SlackError
from wire.ids import now_us
from wire.visibility import channel_type

MAX_PINS = 1000


def _item(conv_id: str, message: JSON, created: int, created_by: str) -> JSON:
    return {
        "type": "message",
        "channel": conv_id,
        "message": {**message, "pinned_to": [conv_id]},
        "created": created,
        "created_by": created_by,
    }


async def _message(conn: Conn, conv_id: str, row: Row, base_url: str) -> JSON:
    message = message_from_row(row, await reactions_for(conn, conv_id, int(row[1])))
    if base_url:
        thread_ts = None if row[6] is None else int(row[6])
        message["permalink"] = permalink(base_url, conv_id, int(row[1]), thread_ts)
    return message


async def _writable(tx: WriteTx, caller: Caller, channel_id: str, ts: int) -> tuple[Visible, Row, bool]:
    conv = await visible(tx.conn, caller, channel_id)
    require_member(conv)
    require_open(conv)
    row = await fetch_message(tx.conn, conv.id, ts)
    pinned = await tx.conn.fetchone("SELECT 1 FROM pins WHERE channel_id = ? AND ts = ?", [conv.id, ts])
    return conv, row, pinned is not None


async def add(store: Store, caller: Caller, channel_id: str, ts: int, base_url: str = "") -> None:
    """``pins.add``: ``already_pinned``, ``message_not_found``, ``not_in_channel``..."""
    async with store.write(caller.team_id) as tx:
        conv, row, pinned = await _writable(tx, caller, channel_id, ts)
        if pinned:
            raise SlackError("already_pinned")
        count = await tx.conn.fetchone("SELECT COUNT(*) FROM pins WHERE channel_id = ?", [conv.id])
        if count is not None and int(count[0]) >= MAX_PINS:
            raise SlackError("too_many_pins", f"a conversation holds at most {MAX_PINS} pins")
        created = now_us() // 1_000_000
        await tx.conn.execute(
            "INSERT INTO pins (channel_id, ts, team_id, pinned_by, created) VALUES (?, ?, ?, ?, ?)",
            [conv.id, ts, caller.team_id, caller.user_id, created],
        )
        message = await _message(tx.conn, conv.id, row, base_url)
        await _emit(tx, conv, "pin_added", caller.user_id, _item(conv.id, message, created, caller.user_id))


async def remove(store: Store, caller: Caller, channel_id: str, ts: int, base_url: str = "") -> None:
    """``pins.remove``: ``no_pin`` when the message is not pinned."""
    async with store.write(caller.team_id) as tx:
        conv, row, pinned = await _writable(tx, caller, channel_id, ts)
        if not pinned:
            raise SlackError("no_pin")
        await tx.conn.execute("DELETE FROM pins WHERE channel_id = ? AND ts = ?", [conv.id, ts])
        left = await tx.conn.fetchone("SELECT 1 FROM pins WHERE channel_id = ? LIMIT 1", [conv.id])
        message = await _message(tx.conn, conv.id, row, base_url)
        item = _item(conv.id, message, now_us() // 1_000_000, caller.user_id)
        del item["message"]["pinned_to"]
        await _emit(tx, conv, "pin_removed", caller.user_id, item, has_pins=left is not None)


async def _emit(tx: WriteTx, conv: Visible, kind: str, user_id: str, item: JSON, **extra: object) -> None:
    await tx.emit(
        {
            "type": kind,
            "user": user_id,
            "channel_id": conv.id,
            "channel": conv.id,
            "channel_type": channel_type(conv.kind, conv.is_private),
            "item": item,
            **extra,
        }
    )


async def list_pins(store: Store, caller: Caller, channel_id: str, base_url: str = "") -> list[JSON]:
    """``pins.list``: the conversation's pinned messages, the latest pinned first."""
    async with store.read(caller.team_id) as conn:
        conv = await visible(conn, caller, channel_id)
        pins = await conn.fetchall(
            "SELECT ts, pinned_by, created FROM pins WHERE channel_id = ? ORDER BY created DESC, ts DESC",
            [conv.id],
        )
        items = []
        for ts, pinned_by, created in pins:
            row = await fetch_message(conn, conv.id, int(ts))
            message = await _message(conn, conv.id, row, base_url)
            items.append(_item(conv.id, message, int(created), str(pinned_by)))
    return items
