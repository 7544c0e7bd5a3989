"""Listing conversations: the workspace's (``conversations.list``) and a user's
(``users.conversations``), both filtered by the one visibility rule and paged by id.

Another user's conversations are shown only where the caller could see them anyway: their
public channels, and the private ones, DMs and group DMs the caller is in too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from origin.models import CONVERSATION_COLUMNS, JSON
from origin.service.access import Visible
from origin.service.auth import Caller
from origin.service.conversations import dm_partner
from origin.store.db import Conn, Row
from origin.store.shards import Store
from wire import cursors
from wire.errors import SlackError, invalid_arguments
from wire.visibility import CONVERSATION_TYPES, is_public_kind, type_of_kind

BATCH = 500
_C_COLUMNS = ", ".join("c." + column.strip() for column in CONVERSATION_COLUMNS.split(","))


def parse_types(types: str | None) -> set[str]:
    wanted = {t.strip() for t in (types or "public_channel").split(",") if t.strip()}
    unknown = wanted - set(CONVERSATION_TYPES)
    if unknown or not wanted:
        raise invalid_arguments("types", f"unknown type(s) {sorted(unknown)}; use {CONVERSATION_TYPES}")
    return wanted


async def _memberships(conn: Conn, user_id: str) -> dict[str, tuple[int, bool]]:
    """The caller's conversations: id -> (last_read, is_open)."""
    rows = await conn.fetchall(
        "SELECT channel_id, last_read, is_open FROM members WHERE user_id = ?", [user_id]
    )
    return {str(r[0]): (int(r[1]), bool(r[2])) for r in rows}


async def _page(
    conn: Conn,
    caller: Caller,
    fetch: Callable[[str], Awaitable[list[Row]]],
    types: set[str],
    exclude_archived: bool,
    limit: int,
    after: str | None,
) -> tuple[list[JSON], str | None]:
    """Walk ``fetch(after_id)`` (conversation rows in id order, ``BATCH`` at a time), keeping
    the ones of ``types`` the caller may see, up to ``limit``."""
    mine = await _memberships(conn, caller.user_id)
    out: list[JSON] = []
    last = after or ""
    more = False
    while len(out) < limit:
        rows = await fetch(last)
        if not rows:
            break
        for row in rows:
            last = str(row[0])
            kind, is_private, archived = str(row[3]), bool(row[4]), bool(row[5])
            member = last in mine
            if type_of_kind(kind, is_private) not in types:
                continue
            if not is_public_kind(kind, is_private) and not member:
                continue
            if exclude_archived and archived:
                continue
            if len(out) == limit:
                more = True
                break
            obj = Visible(row, member, *mine.get(last, (0, True))).obj()
            if kind == "im":
                obj["user"] = await dm_partner(conn, last, caller.user_id)
            out.append(obj)
        if more or len(rows) < BATCH:
            break
    next_cursor = cursors.encode("conv", out[-1]["id"]) if more and out else None
    return out, next_cursor


async def list_conversations(
    store: Store,
    caller: Caller,
    types: set[str],
    exclude_archived: bool,
    limit: int,
    after: str | None,
) -> tuple[list[JSON], str | None]:
    """``conversations.list``: the workspace's visible conversations of ``types``."""
    async with store.read(caller.team_id) as conn:

        async def fetch(last: str) -> list[Row]:
            return await conn.fetchall(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE team_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                [caller.team_id, last, BATCH],
            )

        return await _page(conn, caller, fetch, types, exclude_archived, limit, after)


async def user_conversations(
    store: Store,
    caller: Caller,
    user_id: str,
    types: set[str],
    exclude_archived: bool,
    limit: int,
    after: str | None,
) -> tuple[list[JSON], str | None]:
    """``users.conversations``: the conversations ``user_id`` is in, as far as the caller may
    see them; ``user_not_found`` for anyone outside the workspace."""
    async with store.read(caller.team_id) as conn:
        if user_id != caller.user_id:
            found = await conn.fetchone(
                "SELECT 1 FROM users WHERE team_id = ? AND id = ?", [caller.team_id, user_id]
            )
            if found is None:
                raise SlackError("user_not_found")

        async def fetch(last: str) -> list[Row]:
            return await conn.fetchall(
                f"SELECT {_C_COLUMNS} FROM members m JOIN conversations c ON c.id = m.channel_id "
                "WHERE m.user_id = ? AND c.team_id = ? AND m.channel_id > ? ORDER BY m.channel_id LIMIT ?",
                [user_id, caller.team_id, last, BATCH],
            )

        return await _page(conn, caller, fetch, types, exclude_archived, limit, after)
