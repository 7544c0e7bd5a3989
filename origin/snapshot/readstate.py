"""The snapshot's read state: each conversation's newest messages and the members' cursors.

Read inside the snapshot's transaction (see :mod:`origin.snapshot.stream`), so the windows
and ``last_read`` cursors are consistent with the snapshot's offset; the page shapes are
:mod:`wire.readstate`'s. One query per :data:`GROUP` conversations reads each one's newest
``window + 1`` messages: a ``UNION ALL`` of one ``ORDER BY ts DESC LIMIT`` branch per
conversation, each served backwards by the primary key ``(channel_id, ts)`` (a window function
over the workspace's messages would scan all of them); nothing per recipient exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from origin.store.db import Conn
from wire.readstate import WINDOW, page_items

PAGE = 200
#: Conversations per query.
GROUP = 100
_BRANCH = (
    "SELECT * FROM (SELECT channel_id, ts, user_id, subtype, thread_ts, text FROM messages "
    "WHERE channel_id = ? ORDER BY ts DESC LIMIT ?) AS w{n}"
)


async def newest(conn: Conn, channel_ids: list[str], limit: int) -> dict[str, list[tuple[Any, ...]]]:
    """Each conversation's newest ``limit`` messages (ts, user, subtype, thread_ts, text),
    newest first, in one query."""
    if not channel_ids:
        return {}
    sql = " UNION ALL ".join(_BRANCH.format(n=n) for n in range(len(channel_ids)))
    params: list[Any] = []
    for channel_id in channel_ids:
        params += [channel_id, limit]
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in await conn.fetchall(sql, params):
        out.setdefault(str(row[0]), []).append(tuple(row[1:]))
    for rows in out.values():
        rows.sort(key=lambda r: int(r[0]), reverse=True)
    return out


async def pages(
    conn: Conn, team_id: str, window: int = WINDOW, page: int = PAGE
) -> AsyncIterator[dict[str, Any]]:
    """``reads`` pages (conversations with messages), then ``last_read`` pages."""
    ids = [
        str(r[0])
        for r in await conn.fetchall("SELECT id FROM conversations WHERE team_id = ? ORDER BY id", [team_id])
    ]
    items: list[dict[str, Any]] = []
    for start in range(0, len(ids), GROUP):
        group = ids[start : start + GROUP]
        found = await newest(conn, group, window + 1)
        for channel_id in group:
            rows = found.get(channel_id)
            if not rows:
                continue
            floor, entries = page_items(
                [(int(r[0]), r[1], r[2], None if r[3] is None else int(r[3]), str(r[4])) for r in rows],
                window,
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
