"""What a caller may search: `access`'s rule as a set, narrowed by ``in:`` and ``from:``.

The workspace's public channels, plus the private channels, DMs and group DMs the caller is
in. Names that are unknown, or name a conversation the caller may not see, resolve to
nothing (no error), as in Slack: an error would tell a non-member that a private channel
exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from origin.search import FROM_ME, SearchQuery
from origin.service.access import PUBLIC_SQL
from origin.service.auth import Caller
from origin.store.db import Conn


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str | None
    kind: str
    is_private: bool
    created_us: int
    last_ts: int  # no message of the conversation is newer (``messages.post`` keeps it)


async def visible(conn: Conn, caller: Caller) -> dict[str, Channel]:
    cols = "c.id, c.name, c.kind, c.is_private, c.created, c.last_ts"
    rows = await conn.fetchall(  # one round trip
        f"SELECT {cols} FROM conversations c WHERE c.team_id = ? AND {PUBLIC_SQL} UNION ALL "
        f"SELECT {cols} FROM members mb JOIN conversations c ON c.id = mb.channel_id "
        f"WHERE mb.user_id = ? AND c.team_id = ? AND NOT {PUBLIC_SQL}",
        [caller.team_id, caller.user_id, caller.team_id],
    )
    return {
        str(r[0]): Channel(str(r[0]), r[1], str(r[2]), bool(r[3]), int(r[4]) * 1_000_000, int(r[5]))
        for r in rows
    }


async def conversation_ids(conn: Conn, team_id: str, limit: int) -> list[str] | None:
    """Every conversation of the workspace (visible or not), or None when there are more
    than `limit`: what an index may exclude instead of listing the visible ones."""
    rows = await conn.fetchall("SELECT id FROM conversations WHERE team_id = ? LIMIT ?", [team_id, limit + 1])
    return None if len(rows) > limit else [str(r[0]) for r in rows]


async def users(conn: Conn, caller: Caller, refs: tuple[str, ...]) -> set[str]:
    """User ids for names or ids (``me``: the caller), within the caller's workspace."""
    found = {caller.user_id for r in refs if r.lower() == FROM_ME}
    others = [r for r in refs if r.lower() != FROM_ME]
    if others:
        marks = ",".join("?" * len(others))
        rows = await conn.fetchall(
            f"SELECT id FROM users WHERE team_id = ? AND (id IN ({marks}) OR name IN ({marks}))",
            [caller.team_id, *others, *(r.lower() for r in others)],
        )
        found.update(str(r[0]) for r in rows)
    return found


async def channels(conn: Conn, caller: Caller, query: SearchQuery) -> dict[str, Channel]:
    """The visible conversations, narrowed to those ``in:`` names (an OR); ``in:@user`` is
    the caller's DM with that user."""
    seen = await visible(conn, caller)
    if not (query.in_channels or query.in_users):
        return seen
    by_name = {c.name: c for c in seen.values() if c.name}
    picked = [seen.get(ref) or by_name.get(ref.lower()) for ref in query.in_channels]
    for user in sorted(await users(conn, caller, query.in_users)):
        row = await conn.fetchone(
            "SELECT id FROM conversations WHERE team_id = ? AND dm_key = ? AND kind = 'im'",
            [caller.team_id, ",".join(sorted({caller.user_id, user}))],
        )
        picked.append(seen.get(str(row[0])) if row else None)
    return {c.id: c for c in picked if c is not None}
