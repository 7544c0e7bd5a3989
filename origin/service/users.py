"""Users and their profiles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from origin.models import (
    JSON,
    PROFILE_FIELDS,
    USER_COLUMNS,
    default_profile,
    user_from_row,
)
from origin.service.auth import Caller
from origin.store.db import Conn
from origin.store.shards import Store
from wire import cursors
from wire.errors import SlackError, invalid_arguments
from wire.ids import new_id, now_us

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


def validate_username(name: str) -> str:
    if not _NAME.match(name):
        raise SlackError("invalid_name", "user names are 1-80 of a-z 0-9 . _ - characters")
    return name


async def create_user(
    store: Store,
    team_id: str,
    name: str,
    real_name: str = "",
    email: str | None = None,
    is_bot: bool = False,
    is_admin: bool = False,
    tz: str = "UTC",
    profile: Mapping[str, str] | None = None,
) -> JSON:
    validate_username(name)
    user_id = new_id("U")
    prof = default_profile(name, real_name, email, **dict(profile or {}))
    async with store.write(team_id) as tx:
        taken = await tx.conn.fetchone("SELECT 1 FROM users WHERE team_id = ? AND name = ?", [team_id, name])
        if taken:
            raise SlackError("name_taken")
        row = (
            user_id,
            team_id,
            name,
            real_name,
            0,
            int(is_bot),
            int(is_admin),
            tz,
            now_us() // 1_000_000,
            orjson.dumps(prof).decode(),
        )
        await tx.conn.execute(
            f"INSERT INTO users ({USER_COLUMNS}, email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*row, email],
        )
        user = user_from_row(row)
        await tx.emit({"type": "team_join", "user": user})
    return user


async def fetch_users(conn: Conn, team_id: str, ids: Sequence[str]) -> dict[str, JSON]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = await conn.fetchall(
        f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id IN ({marks})",
        [team_id, *ids],
    )
    return {r[0]: user_from_row(r) for r in rows}


async def get_user(store: Store, caller: Caller, user_id: str) -> JSON:
    async with store.read(caller.team_id) as conn:
        found = await fetch_users(conn, caller.team_id, [user_id])
    if user_id not in found:
        raise SlackError("user_not_found")
    return found[user_id]


async def get_users(store: Store, caller: Caller, user_ids: Sequence[str]) -> list[JSON]:
    """A batch lookup; ``users_not_found`` if any id is unknown."""
    async with store.read(caller.team_id) as conn:
        found = await fetch_users(conn, caller.team_id, list(dict.fromkeys(user_ids)))
    if len(found) != len(set(user_ids)):
        raise SlackError("users_not_found")
    return [found[u] for u in dict.fromkeys(user_ids)]


async def list_users(
    store: Store, caller: Caller, limit: int, after: str | None
) -> tuple[list[JSON], str | None]:
    async with store.read(caller.team_id) as conn:
        rows = await conn.fetchall(
            f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id > ? ORDER BY id LIMIT ?",
            [caller.team_id, after or "", limit + 1],
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursors.encode("user", rows[-1][0]) if more and rows else None
    return [user_from_row(r) for r in rows], next_cursor


async def lookup_by_email(store: Store, caller: Caller, email: str) -> JSON:
    async with store.read(caller.team_id) as conn:
        row = await conn.fetchone(
            f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND email = ?",
            [caller.team_id, email],
        )
    if row is None:
        raise SlackError("users_not_found")
    return user_from_row(row)


async def set_profile(store: Store, caller: Caller, changes: Mapping[str, Any]) -> JSON:
    """``users.profile.set``: change the caller's own profile fields."""
    for key, value in changes.items():
        if key not in PROFILE_FIELDS:
            raise invalid_arguments(f"profile.{key}", "is not an editable profile field")
        if not isinstance(value, str) or len(value) > 250:
            raise invalid_arguments(f"profile.{key}", "must be a string of at most 250 chars")
    return await _update_user(store, caller.team_id, caller.user_id, changes, None)


async def set_deleted(store: Store, team_id: str, user_id: str, deleted: bool) -> JSON:
    """Deactivate (or reactivate) a user; their tokens stop working at once."""
    return await _update_user(store, team_id, user_id, {}, deleted)


async def _update_user(
    store: Store,
    team_id: str,
    user_id: str,
    changes: Mapping[str, Any],
    deleted: bool | None,
) -> JSON:
    async with store.write(team_id) as tx:
        row = await tx.conn.fetchone(
            f"SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id = ?{tx.db.for_update()}",
            [team_id, user_id],
        )
        if row is None:
            raise SlackError("user_not_found")
        user = user_from_row(row)
        profile = {**user["profile"], **changes}
        user["profile"] = profile
        if "real_name" in changes:
            user["real_name"] = changes["real_name"]
        if deleted is not None:
            user["deleted"] = deleted
        user["updated"] = now_us() // 1_000_000
        await tx.conn.execute(
            "UPDATE users SET real_name = ?, email = ?, deleted = ?, updated = ?, profile = ? WHERE id = ?",
            [
                user["real_name"],
                profile.get("email") or None,
                int(user["deleted"]),
                user["updated"],
                orjson.dumps(profile).decode(),
                user_id,
            ],
        )
        await tx.emit({"type": "user_change", "user": user})
    return user
