"""Emoji reactions on messages."""

from __future__ import annotations

import re

from origin.models import JSON, message_from_row
from origin.service.access import fetch_message, visible
from origin.service.auth import Caller
from origin.store.db import Conn
from origin.store.shards import Store
from wire.errors import SlackError
from wire.ids import now_us, ts_str
from wire.visibility import channel_type

_NAME = re.compile(r"^[a-z0-9_+'-]{1,100}(::skin-tone-[2-6])?$")


async def reactions_for(conn: Conn, channel_id: str, ts: int) -> list[JSON]:
    rows = await conn.fetchall(
        "SELECT name, user_id, added FROM reactions WHERE channel_id = ? AND ts = ? ORDER BY added, user_id",
        [channel_id, ts],
    )
    by_name: dict[str, list[str]] = {}
    for name, user_id, _ in rows:
        by_name.setdefault(str(name), []).append(str(user_id))
    return [{"name": n, "users": u, "count": len(u)} for n, u in by_name.items()]


def check_name(name: str) -> str:
    name = name.strip(":")
    if not _NAME.match(name):
        raise SlackError("invalid_name", "reaction names are emoji names like thumbsup")
    return name


async def set_reaction(store: Store, caller: Caller, channel_id: str, ts: int, name: str, add: bool) -> None:
    name = check_name(name)
    async with store.write(caller.team_id) as tx:
        conv = await visible(tx.conn, caller, channel_id)
        if conv.is_archived:
            raise SlackError("is_archived")
        row = await fetch_message(tx.conn, conv.id, ts)
        exists = await tx.conn.fetchone(
            "SELECT 1 FROM reactions WHERE channel_id = ? AND ts = ? AND name = ? AND user_id = ?",
            [conv.id, ts, name, caller.user_id],
        )
        if add and exists:
            raise SlackError("already_reacted")
        if not add and not exists:
            raise SlackError("no_reaction")
        if add:
            await tx.conn.execute(
                "INSERT INTO reactions (channel_id, ts, name, user_id, added) VALUES (?, ?, ?, ?, ?)",
                [conv.id, ts, name, caller.user_id, now_us()],
            )
        else:
            await tx.conn.execute(
                "DELETE FROM reactions WHERE channel_id = ? AND ts = ? AND name = ? AND user_id = ?",
                [conv.id, ts, name, caller.user_id],
            )
        await tx.emit(
            {
                "type": "reaction_added" if add else "reaction_removed",
                "user": caller.user_id,
                "reaction": name,
                "item_user": row[3],
                "item": {"type": "message", "channel": conv.id, "ts": ts_str(ts)},
                "channel_type": channel_type(conv.kind, conv.is_private),
            }
        )


async def get(store: Store, caller: Caller, channel_id: str, ts: int) -> JSON:
    async with store.read(caller.team_id) as conn:
        conv = await visible(conn, caller, channel_id)
        row = await fetch_message(conn, conv.id, ts)
        message = message_from_row(row, await reactions_for(conn, conv.id, ts))
    return {"type": "message", "channel": conv.id, "message": message}
