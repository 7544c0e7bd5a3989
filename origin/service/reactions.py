"""Emoji reactions on messages: adding, removing, a message's, and a user's (``reactions.list``)."""

from __future__ import annotations

import re

from origin.models import JSON, message_from_row, permalink
from origin.service.access import Visible, fetch_message, visible
from origin.service.auth import Caller
from origin.store.db import Conn, Row
from origin.store.shards import Store
from wire import cursors
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


async def list_reactions(
    store: Store,
    caller: Caller,
    user_id: str,
    limit: int,
    after: str | None,
    base_url: str = "",
) -> tuple[list[JSON], str | None]:
    """``reactions.list``: the messages ``user_id`` reacted to, the latest reaction first, in
    the conversations the caller may see; pages of ``limit`` after the cursor key ``after``.

    A message is one item however many emoji the user put on it, with all of its reactions
    (never truncated, so Slack's ``full`` changes nothing).
    """
    position = _position(after) if after is not None else None
    async with store.read(caller.team_id) as conn:
        user = await conn.fetchone(
            "SELECT 1 FROM users WHERE team_id = ? AND id = ?", [caller.team_id, user_id]
        )
        if user is None:
            raise SlackError("user_not_found")
        seen: dict[str, Visible | None] = {}
        items: list[JSON] = []
        last: tuple[int, str, int] | None = None
        more = False
        while not more:
            rows = await _reacted(conn, user_id, position, BATCH)
            for channel_id, ts, added in rows:
                position = (int(added), str(channel_id), int(ts))
                conv = await _seen(conn, caller, str(channel_id), seen)
                if conv is None:
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(await _item(conn, conv, int(ts), base_url))
                last = position
            if len(rows) < BATCH:
                break
    next_cursor = cursors.encode("reaction", "{}:{}:{}".format(*last)) if more and last else None
    return items, next_cursor


BATCH = 200


def _position(key: str) -> tuple[int, str, int]:
    added, channel_id, ts = [*key.split(":"), "", "", ""][:3]
    if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in (added, ts)):
        raise SlackError("invalid_cursor")  # a forged key: a database integer stays in range
    if not (channel_id.isascii() and channel_id.isalnum()):
        raise SlackError("invalid_cursor")
    return int(added), channel_id, int(ts)


async def _reacted(conn: Conn, user_id: str, before: tuple[int, str, int] | None, n: int) -> list[Row]:
    """(channel_id, ts, latest reaction time) of messages ``user_id`` reacted to, newest first,
    strictly after the paging position ``before``."""
    having, params = "", []
    if before is not None:
        added, channel_id, ts = before
        having = (
            " HAVING MAX(added) < ? OR (MAX(added) = ? AND (channel_id < ? OR (channel_id = ? AND ts < ?)))"
        )
        params = [added, added, channel_id, channel_id, ts]
    return await conn.fetchall(
        f"SELECT channel_id, ts, MAX(added) FROM reactions WHERE user_id = ? GROUP BY channel_id, ts{having} "
        "ORDER BY MAX(added) DESC, channel_id DESC, ts DESC LIMIT ?",
        [user_id, *params, n],
    )


async def _seen(
    conn: Conn, caller: Caller, channel_id: str, seen: dict[str, Visible | None]
) -> Visible | None:
    if channel_id not in seen:
        try:
            seen[channel_id] = await visible(conn, caller, channel_id)
        except SlackError:
            seen[channel_id] = None
    return seen[channel_id]


async def _item(conn: Conn, conv: Visible, ts: int, base_url: str) -> JSON:
    row = await fetch_message(conn, conv.id, ts)
    message = message_from_row(row, await reactions_for(conn, conv.id, ts))
    if base_url:
        message["permalink"] = permalink(base_url, conv.id, ts, None if row[6] is None else int(row[6]))
    return {"type": "message", "channel": conv.id, "message": message}
