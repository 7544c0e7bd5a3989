"""The snapshot's read state: each conversation's newest messages and the members' cursors.

Read inside the snapshot's transaction (see :mod:`origin.snapshot.stream`), so the windows
and ``last_read`` cursors are consistent with the snapshot's offset; the page shapes are
:mod:`wire.readstate`'s. One query per conversation reads its newest ``window + 1`` messages
(the primary key ``(channel_id, ts)`` serves it backwards); nothing per recipient exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from origin.store.db import Conn
from wire.readstate import WINDOW, page_items

PAGE = 200


async def pages(
    conn: Conn, team_id: str, window: int = WINDOW, page: int = PAGE
) -> AsyncIterator[dict[str, Any]]:
    """``reads`` pages (conversations with messages), then ``last_read`` pages."""
    ids = [
        str(r[0])
        for r in await conn.fetchall("SELECT id FROM conversations WHERE team_id = ? ORDER BY id", [team_id])
    ]
    items: list[dict[str, Any]] = []
    for channel_id in ids:
        rows = await conn.fetchall(
            "SELECT ts, user_id, subtype, thread_ts, text FROM messages WHERE channel_id = ? "
            "ORDER BY ts DESC LIMIT ?",
            [channel_id, window + 1],
        )
        if not rows:
            continue
        floor, entries = page_items(
            [(int(r[0]), r[1], r[2], None if r[3] is None else int(r[3]), str(r[4])) for r in rows], window
        )
        items.append({"channel": channel_id, "floor": floor, "messages": entries})
        if len(items) == page:
            yield {"type": "reads", "items": items}
            items = []
    if items:
        yield {"type": "reads", "items": items}
    last_channel, last_user = "", ""
    while True:
        rows = await conn.fetchall(
            "SELECT channel_id, user_id, last_read FROM members WHERE team_id = ? AND last_read > 0 AND "
            "(channel_id > ? OR (channel_id = ? AND user_id > ?)) ORDER BY channel_id, user_id LIMIT ?",
            [team_id, last_channel, last_channel, last_user, page * 50],
        )
        if rows:
            last_channel, last_user = str(rows[-1][0]), str(rows[-1][1])
            yield {"type": "last_read", "items": [[str(c), str(u), int(t)] for c, u, t in rows]}
        if len(rows) < page * 50:
            break
