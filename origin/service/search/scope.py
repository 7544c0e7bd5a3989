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


_COLS = "c.id, c.name, c.kind, c.is_private, c.created, c.last_ts"


@dataclass(frozen=True, slots=True)
class Scope:
    """The conversations a caller may read, and, when asked for, those they may not."""

    channels: dict[str, Channel]
    hidden: list[str] | None  # None: not asked for, or more than the limit


async def visible(conn: Conn, caller: Caller) -> dict[str, Channel]:
    """The conversations the caller may read."""
    return (await visible_and_hidden(conn, caller, None)).channels


async def visible_and_hidden(conn: Conn, caller: Caller, hidden_limit: int | None) -> Scope:
    """The caller's visible conversations, in one statement; with `hidden_limit`, the same
    statement also lists the workspace's conversations they may not see (public channels
    are visible to all, so those are the non-public ones they are not in), up to the limit:
    what an index may exclude instead of listing the visible ones."""
    sql = (
        f"SELECT {_COLS}, 1 FROM conversations c WHERE c.team_id = ? AND {PUBLIC_SQL} UNION ALL "
        f"SELECT {_COLS}, 1 FROM members mb JOIN conversations c ON c.id = mb.channel_id "
        f"WHERE mb.user_id = ? AND c.team_id = ? AND NOT {PUBLIC_SQL}"
    )
    params: list[object] = [caller.team_id, caller.user_id, caller.team_id]
    if hidden_limit is not None:
        sql += (
            " UNION ALL SELECT * FROM (SELECT c.id, NULL AS name, NULL AS kind, 0 AS is_private, "
            "0 AS created, 0 AS last_ts, 0 AS visible FROM conversations c "
            f"WHERE c.team_id = ? AND NOT {PUBLIC_SQL} AND NOT EXISTS (SELECT 1 FROM members mb "
            "WHERE mb.channel_id = c.id AND mb.user_id = ?) LIMIT ?) h"
        )
        params += [caller.team_id, caller.user_id, hidden_limit + 1]
    rows = await conn.fetchall(sql, params)  # one round trip
    seen = {
        str(r[0]): Channel(str(r[0]), r[1], str(r[2]), bool(r[3]), int(r[4]) * 1_000_000, int(r[5]))
        for r in rows
        if int(r[6])
    }
    hidden = None
    if hidden_limit is not None:
        hidden = [str(r[0]) for r in rows if not int(r[6])]
        hidden = hidden if len(hidden) <= hidden_limit else None
    return Scope(seen, hidden)


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
    return (await scope(conn, caller, query)).channels


async def scope(conn: Conn, caller: Caller, query: SearchQuery, hidden_limit: int | None = None) -> Scope:
    """`channels`, and with `hidden_limit` the hidden conversations too when there is no
    ``in:`` (which narrows the scope to a few: nothing to gain by a complement)."""
    narrowed = bool(query.in_channels or query.in_users)
    found = await visible_and_hidden(conn, caller, None if narrowed else hidden_limit)
    if not narrowed:
        return found
    seen = found.channels
    by_name = {c.name: c for c in seen.values() if c.name}
    picked = [seen.get(ref) or by_name.get(ref.lower()) for ref in query.in_channels]
    for user in sorted(await users(conn, caller, query.in_users)):
        row = await conn.fetchone(
            "SELECT id FROM conversations WHERE team_id = ? AND dm_key = ? AND kind = 'im'",
            [caller.team_id, ",".join(sorted({caller.user_id, user}))],
        )
        picked.append(seen.get(str(row[0])) if row else None)
    return Scope({c.id: c for c in picked if c is not None}, None)
