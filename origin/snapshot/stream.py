"""Reading a snapshot: one consistent read transaction, yielded page by page.

The stream is newline-delimited JSON: a ``header`` (team and the offset the snapshot is
consistent with), then ``users``, ``channels`` and ``members`` pages, then ``end`` with the
counts, so a reader can tell a complete snapshot from a cut connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from origin.models import CONVERSATION_COLUMNS, USER_COLUMNS, conversation_from_row, user_from_row
from origin.snapshot import readstate
from origin.store.shards import Store
from wire.errors import SlackError
from wire.ids import now_us

PAGE = 1000
RECENT_REVOCATIONS_US = 300 * 1_000_000


async def pages(store: Store, team_id: str, page: int = PAGE) -> AsyncIterator[dict[str, Any]]:
    """Yield the snapshot of ``team_id`` as pages, all read in one transaction."""
    async with store.snapshot(team_id) as conn:
        team = await conn.fetchone("SELECT id, name, domain, event_seq FROM teams WHERE id = ?", [team_id])
        if team is None:
            raise SlackError("team_not_found")
        revoked = await conn.fetchall(
            "SELECT token_hash FROM tokens WHERE team_id = ? AND revoked_at >= ?",
            [team_id, now_us() - RECENT_REVOCATIONS_US],
        )
        yield {
            "type": "header",
            "team": {"id": team[0], "name": team[1], "domain": team[2]},
            "offset": int(team[3]),
            # Tokens revoked lately: a ticket signed just before a revocation (by a router whose
            # token cache had not heard yet) must not open a session on an edge loading now.
            "revoked_tokens": [str(r[0]) for r in revoked],
        }
        counts = {"users": 0, "channels": 0, "members": 0}
        last = ""
        while True:
            rows = await conn.fetchall(
                f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id > ? ORDER BY id LIMIT ?",
                [team_id, last, page],
            )
            if rows:
                counts["users"] += len(rows)
                last = str(rows[-1][0])
                yield {"type": "users", "items": [user_from_row(r) for r in rows]}
            if len(rows) < page:
                break
        last = ""
        while True:
            rows = await conn.fetchall(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE team_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                [team_id, last, page],
            )
            if rows:
                counts["channels"] += len(rows)
                last = str(rows[-1][0])
                yield {"type": "channels", "items": [conversation_from_row(r) for r in rows]}
            if len(rows) < page:
                break
        last_channel, last_user = "", ""
        while True:
            rows = await conn.fetchall(
                "SELECT channel_id, user_id FROM members WHERE team_id = ? AND "
                "(channel_id > ? OR (channel_id = ? AND user_id > ?)) "
                "ORDER BY channel_id, user_id LIMIT ?",
                [team_id, last_channel, last_channel, last_user, page * 10],
            )
            if rows:
                counts["members"] += len(rows)
                last_channel, last_user = str(rows[-1][0]), str(rows[-1][1])
                yield {"type": "members", "items": [[str(c), str(u)] for c, u in rows]}
            if len(rows) < page * 10:
                break
        async for read_page in readstate.pages(conn, team_id):
            yield read_page
        yield {"type": "end", **counts}
