"""Reading messages: a channel's history, a thread, the pins count, and permalinks.

The channel's history is its top-level messages and its thread broadcasts (replies that were
also sent to the channel: see :mod:`origin.service.messages`); a thread is its parent and every
reply, broadcasts included.
"""

from __future__ import annotations

from origin.models import JSON, add_extras, permalink
from origin.service.access import fetch_message, visible
from origin.service.auth import Caller
from origin.service.message_writes import MESSAGE_READ, message_with_id
from origin.service.reactions import reactions_for
from origin.store.db import Conn, Row
from origin.store.shards import Store
from wire import cursors


async def render(conn: Conn, channel_id: str, rows: list[Row]) -> list[JSON]:
    """Rows read with ``MESSAGE_READ`` as Slack's messages: reactions, ``pinned_to``, and the
    fields an import kept (``message_extras``: files' metadata, ``bot_id``, ``username``...)."""
    pinned: set[int] = set()
    extras: dict[int, str] = {}
    if rows:
        marks = ",".join("?" * len(rows))
        stamps = [channel_id, *(r[1] for r in rows)]
        found = await conn.fetchall(f"SELECT ts FROM pins WHERE channel_id = ? AND ts IN ({marks})", stamps)
        pinned = {int(r[0]) for r in found}
        kept = await conn.fetchall(
            f"SELECT ts, payload FROM message_extras WHERE channel_id = ? AND ts IN ({marks})", stamps
        )
        extras = {int(r[0]): str(r[1]) for r in kept}
    out = []
    for row in rows:
        message = message_with_id(row, await reactions_for(conn, channel_id, int(row[1])))
        add_extras(message, extras.get(int(row[1])), files_list=True)
        if int(row[1]) in pinned:
            message["pinned_to"] = [channel_id]
        out.append(message)
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
    """The channel's messages (not thread replies, but thread broadcasts), newest first,
    between oldest and latest."""
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
            f"{cond} AND (thread_ts IS NULL OR thread_ts = ts OR subtype = 'thread_broadcast') "
            "ORDER BY ts DESC LIMIT ?",
            [*params, limit + 1],
        )
        more = len(rows) > limit
        messages = await render(conn, channel_id, rows[:limit])
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
        messages = await render(conn, channel_id, rows[:limit])
    next_cursor = cursors.encode("ts", str(rows[limit - 1][1])) if more else None
    return messages, more, next_cursor


async def pin_count(store: Store, caller: Caller, channel_id: str) -> int:
    async with store.read(caller.team_id) as conn:
        await visible(conn, caller, channel_id)
        row = await conn.fetchone("SELECT COUNT(*) FROM pins WHERE channel_id = ?", [channel_id])
    return int(row[0]) if row else 0


async def get_permalink(store: Store, caller: Caller, channel_id: str, ts: int, base_url: str) -> str:
    """``chat.getPermalink``: the link of a message the caller may see (see ``models.permalink``)."""
    async with store.read(caller.team_id) as conn:
        conv = await visible(conn, caller, channel_id)
        row = await fetch_message(conn, conv.id, ts)
    return permalink(base_url, conv.id, ts, None if row[6] is None else int(row[6]))
